"""S4 semantics, end to end: a real node (root, zygote, four host OS processes) per module."""
from __future__ import annotations

import os

import pytest

import wippy
from wippy.core.pid import parse_pid

APP = os.path.join(os.path.dirname(__file__), "data", "apps", "s4")
pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def node():
    n = wippy.Node(APP, data_dir="/tmp/wt-s4-data-%d" % os.getpid())
    n.start()
    try:
        yield n
    finally:
        assert n.stop() == 0


def test_spawned_process_receives_and_replies(node):
    pid = node.spawn("t:echo", "app:a")
    node.send(pid, "hello", {"n": 1, "list": [1, 2.5, "x", None, True, b"\xff"]})
    msg = node.receive(timeout=5)
    assert msg is not None
    assert (msg.topic, msg.sender, msg.payload) == ("hello", pid, {"n": 1, "list": [1, 2.5, "x", None, True, b"\xff"]})
    node.send(pid, "stop")


def test_exec_returns_the_result_of_main(node):
    assert node.exec("t:returner", "app:b", [1, {"a": 2}], timeout=10) == [1, {"a": 2}]


def test_exec_of_a_failing_process_raises_its_error(node):
    with pytest.raises(wippy.ProcessFailed, match="ValueError: nope"):
        node.exec("t:crasher", "app:a", "nope", timeout=10)


def test_exec_of_an_unknown_entry_fails_with_a_clear_error(node):
    with pytest.raises(wippy.WippyError, match="t:missing not found"):
        node.exec("t:missing", "app:a", timeout=10)


def test_spawn_on_an_unknown_host_is_refused(node):
    with pytest.raises(wippy.ProcessNotFound, match="host app:nowhere not found"):
        node.spawn("t:echo", "app:nowhere")


def test_monitor_gets_exit_with_value_or_error(node):
    out = node.exec("t:monitor_exit", "app:a", "app:b", timeout=10)
    assert out["ok"] == {"kind": "EXIT", "value": {"x": [1, 2]}, "error": None}
    assert out["bad"]["kind"] == "EXIT" and "ValueError: monitored boom" in out["bad"]["error"]


def test_untrapped_link_kills_the_peer_with_a_named_reason(node):
    with pytest.raises(wippy.ProcessFailed, match=r"linked process \{app:b/\d+\|[\d.]+\} failed: .*linked boom"):
        node.exec("t:linker", "app:a", "app:b", timeout=10)


def test_trapped_link_delivers_link_down(node):
    out = node.exec("t:trapper", "app:a", "app:b", timeout=10)
    assert out["kind"] == "LINK_DOWN" and out["from"] == out["child"]
    assert "trapped boom" in out["error"]


def test_link_to_a_terminated_remote_process_kills_us(node):
    with pytest.raises(wippy.ProcessFailed, match="linked process .* failed: terminated"):
        node.exec("t:link_remote_case", "app:a", "app:b", timeout=10)


def test_process_exec_inside_a_process(node):
    assert node.exec("t:exec_ok", "app:a", "app:b", timeout=10) == [1, "two", 3.0]
    assert "ValueError: exec boom" in node.exec("t:exec_fail", "app:a", "app:b", timeout=10)


def test_names_are_visible_everywhere_when_register_returns(node):
    out = node.exec("t:names_case", "app:a", "app:b", timeout=10)
    assert out["lookup"] == out["me"]
    assert out["reply"] == "hello"
    assert out["dup"] == "ALREADY_EXISTS"
    assert "no-such-name" in out["unknown"]
    assert out["removed"] is True and out["after"] is None


def test_channels_select_default_and_close(node):
    out = node.exec("t:select_case", "app:a", timeout=10)
    assert out == {"select": [True, True, "from b"], "unbuffered": [0, 1, 2], "closed_ok": False,
                   "timeout_fired": True}


def test_timers_sleep_ticker_and_stop(node):
    out = node.exec("t:timers_case", "app:a", timeout=10)
    assert out["slept"] >= 0.029
    assert out["ticks"] == 3 and out["stopped"] is True and out["timer_quiet"] is True


def test_funcs_call_async_and_errors(node):
    out = node.exec("t:funcs_case", "app:a", timeout=10)
    assert out == {"call": 42, "async": 10, "error": "function failed on 1"}


def test_node_call_runs_a_function_entry(node):
    assert node.call("t:double", 4, timeout=10) == 8
    with pytest.raises(wippy.ProcessFailed, match="function failed on 2"):
        node.call("t:fails", 2, timeout=10)


def test_cancel_delivers_reason(node):
    assert node.exec("t:cancel_case", "app:a", "app:b", timeout=10) == {"kind": "CANCEL", "reason": "please stop"}


def test_terminate_is_an_error_exit_for_monitors(node):
    out = node.exec("t:terminate_case", "app:a", "app:b", timeout=10)
    assert out["kind"] == "EXIT" and out["value"] is None and "terminated by" in out["error"]


def test_terminating_yourself_ends_you_with_an_error(node):
    with pytest.raises(wippy.ProcessFailed, match="terminated"):
        node.exec("t:self_exit_kill", "app:a", "app:a", timeout=10)


def test_listen_takes_its_topic_and_inbox_the_rest(node):
    out = node.exec("t:listen_case", "app:a", "app:b", timeout=10)
    assert out == {"special": 1, "other": ["other", 2]}


def test_messages_that_arrive_before_anyone_asks_are_kept_in_order(node):
    out = node.exec("t:mailbox_before_inbox", "app:a", timeout=10)
    assert out == {"listen": "second", "inbox": ["first", "third"], "same": True}


def test_messages_sent_right_after_spawn_are_all_delivered_in_order(node):
    assert node.exec("t:early_case", "app:a", "app:b", 500, timeout=20) is True


def test_sending_to_a_dead_pid_is_an_error(node):
    out = node.exec("t:dead_send_case", "app:a", "app:b", timeout=10)
    assert "not found" in out["remote"] and out["local"] == "NOT_FOUND"


def test_bad_payloads_are_refused_and_the_sender_lives_on(node):
    out = node.exec("t:bad_payload_case", "app:a", timeout=30)
    assert "object is not plain data" in out["object"]
    assert "set is not plain data" in out["set"]
    assert "builtin_function_or_method is not plain data" in out["func"]
    assert "exceeds" in out["big"]
    assert out["tuple_became"] == [1, [2, [3]]] and out["alive"] is True


def test_coroutine_spawn_runs_tasks_inside_the_process(node):
    assert node.exec("t:tasks_case", "app:a", timeout=10) == [0, 1, 4, 9, 16]


def test_to_thread_runs_blocking_code(node):
    assert node.exec("t:thread_case", "app:a", timeout=10) == 42


def test_pids_route_to_the_right_os_process(node):
    ps = node.ps()
    serials = {h["serial"]: h["host"] for h in ps["hosts"]}
    for host in ("app:a", "app:b", "app:pool", "app:pool"):
        pid = node.exec("t:pid_case", host, timeout=10)
        p = parse_pid(pid)
        assert p.host == host and serials[p.serial] == host


def test_spawns_spread_over_the_workers_of_a_host(node):
    pids = [node.spawn("t:forever", "app:pool") for _ in range(10)]
    assert len({parse_pid(p).serial for p in pids}) == 2
    for p in pids:
        node.send(p, "x")
        node.send(p, "y")


def test_spawn_a_plain_python_function(node):
    factor = 7
    assert node.run(lambda x: x * factor, "app:a", 6, timeout=10) == 42


def test_sending_to_an_unknown_name_from_outside_is_an_error(node):
    with pytest.raises(wippy.ProcessNotFound, match="nobody-here"):
        node.send("nobody-here", "x", 1)


def test_registry_get_from_outside(node):
    entry = node.registry.get("t:echo")
    assert entry["kind"] == "process.py" and entry["id"] == "t:echo"
    with pytest.raises(wippy.EntryNotFound):
        node.registry.get("t:nope")


def test_ps_lists_hosts_with_os_stats(node):
    ps = node.ps()
    assert {h["host"] for h in ps["hosts"]} == {"app:a", "app:b", "app:pool"}
    for h in ps["hosts"]:
        assert h["os_pid"] > 0 and h["rss"] > 0 and h["state"] == "ready"
