"""Bounded mailboxes across real OS processes (S4, wippy/core/flow.py): a sender that outruns its
receiver is told, the limit comes from the entry or its host entry, ``wait_send`` delivers
everything once and in order, and a PID that never existed fails like a dead one."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from conftest import wait_until, write_app

import wippy
from wippy.core.flow import MAILBOX_DEFAULT, credit_batch

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

APP = {
    "config/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - name: a
            kind: process.host
          - name: b
            kind: process.host
            limits: {mailbox: 500}        # the default of the processes it runs
          - name: sink
            kind: process.py
            source: file://cases.py
            method: sink
          - name: small_sink
            kind: process.py
            source: file://cases.py
            method: sink
            limits: {mailbox: 50}         # its own limit wins over its host's
          - name: reader
            kind: process.py
            source: file://cases.py
            method: reader
          - name: flood
            kind: process.py
            source: file://cases.py
            method: flood
          - name: ponger
            kind: process.py
            source: file://cases.py
            method: ponger
          - name: lua_flood
            kind: process.lua
            source: file://flood.lua
            method: main
          - name: nowhere
            kind: process.py
            source: file://cases.py
            method: nowhere
        """,
    "config/cases.py": """
        from wippy import MailboxFull, process

        async def sink(report_to):
            # holds every message unread until told to read them: a receiver that stalls
            go = process.listen("go")
            process.send(report_to, "ready", process.pid())
            await go.receive()
            inbox = process.inbox()
            seen = []
            while True:
                msg = await inbox.receive()
                if msg.topic == "end":
                    return seen
                seen.append(msg.payload)

        async def reader(report_to, n):
            # reads n messages; reports how many it got, whether in order, the deepest inbox
            inbox = process.inbox()
            process.send(report_to, "ready", process.pid())
            expect, deepest, bad = 0, 0, 0
            for _ in range(n):
                deepest = max(deepest, len(inbox))
                msg = await inbox.receive()
                if msg.payload != expect:
                    bad += 1
                expect = msg.payload + 1
            return {"got": n, "out_of_order": bad, "deepest": deepest}

        async def ponger():
            inbox = process.inbox()
            while True:
                msg = await inbox.receive()
                process.send(msg.payload, "pong")

        async def flood(dest, n, wait, probe_host):
            if probe_host:                  # one message, then a round trip to its host on the
                pongs = process.listen("pong")      # same pipe: its limit, told on arrival,
                ponger_pid = process.spawn("app:ponger", probe_host)   # comes back first
                process.send(dest, "m", 0)
                process.send(ponger_pid, "ping", process.pid())
                await pongs.receive()
                process.terminate(ponger_pid)
                start = 1
            else:
                start = 0
            for i in range(start, n):
                if wait:
                    await process.wait_send(dest, "m", i)
                    continue
                try:
                    process.send(dest, "m", i)
                except MailboxFull as exc:
                    return {"sent": i, "error": str(exc), "kind": exc.kind}
            return {"sent": n}

        async def nowhere():
            try:
                process.send("{app:b/4242|3}", "x", 1)    # no OS process 4242 ever ran
            except Exception as exc:
                return f"{type(exc).__name__}: {exc}"
            return "sent"
        """,
    "config/flood.lua": """
        -- waits for room rather than failing when the reader is behind; then floods without
        -- waiting and reports the error value send returns
        local function main(dest, n, overflow_to)
            for i = 0, n - 1 do
                process.wait_send(dest, "m", i)
            end
            if overflow_to == nil then
                return {sent = n}
            end
            for i = 0, 1000000 do
                local ok, err = process.send(overflow_to, "m", i)
                if not ok then
                    return {sent = n, refused_after = i, kind = err:kind(), error = tostring(err)}
                end
            end
            return {sent = n}
        end
        return {main = main}
        """,
}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[wippy.Node]:
    app = write_app(str(tmp_path_factory.mktemp("mbx")), APP)
    with wippy.Node(app) as n:
        yield n


def spawn_ready(node: wippy.Node, entry: str, host: str, *args: Any) -> str:
    pid = node.spawn(entry, host, node.pid, *args, monitor=True)
    msg = node.receive(timeout=20)
    assert msg is not None and msg.topic == "ready" and msg.payload == pid
    return pid


def mailbox_of(node: wippy.Node, pid: str) -> int:
    for h in node.ps()["hosts"]:
        for p in h.get("processes", []):
            if p["pid"] == pid:
                return p["mailbox"]
    raise AssertionError(f"{pid} is not running")


def test_a_sender_on_another_host_is_told_once_the_receiver_holds_its_limit(node):
    sink = spawn_ready(node, "app:sink", "app:a")         # default limit
    out = node.exec("app:flood", "app:b", sink, 3 * MAILBOX_DEFAULT, False, None, timeout=60)
    assert out["sent"] == MAILBOX_DEFAULT and out["kind"] == "UNAVAILABLE"
    assert f"process {sink} is not keeping up" in out["error"]
    wait_until(lambda: mailbox_of(node, sink) == MAILBOX_DEFAULT, 20, what="all of them to arrive")
    node.send(sink, "go")
    node.send(sink, "end")
    assert node.wait_exit(sink, timeout=30) == list(range(MAILBOX_DEFAULT))


def test_a_host_entry_limit_bounds_its_processes_mailboxes_for_remote_senders(node):
    sink = spawn_ready(node, "app:sink", "app:b")         # host b: limits.mailbox 500
    out = node.exec("app:flood", "app:a", sink, 5000, False, "app:b", timeout=60)
    assert out["sent"] == 500 and "its mailbox holds 500" in out["error"]
    # the flood's last batches may still be on their way: "end" comes from another sender
    wait_until(lambda: mailbox_of(node, sink) == 500, 20, what="all of them to arrive")
    node.send(sink, "go")
    node.send(sink, "end")
    assert len(node.wait_exit(sink, timeout=30)) == 500


def test_an_entry_limit_wins_and_a_sender_in_the_same_os_process_sees_it_at_once(node):
    sink = spawn_ready(node, "app:small_sink", "app:b")
    out = node.exec("app:flood", "app:b", sink, 5000, False, None, timeout=60)
    assert out["sent"] == 50 and "50 messages are unread in its mailbox, which holds 50" in out["error"]
    node.send(sink, "go")
    node.send(sink, "end")
    assert node.wait_exit(sink, timeout=30) == list(range(50))


def test_wait_send_delivers_every_message_once_in_order_and_the_mailbox_stays_bounded(node):
    n = 3 * MAILBOX_DEFAULT
    reader = spawn_ready(node, "app:reader", "app:a", n)
    flood = node.spawn("app:flood", "app:b", reader, n, True, None, monitor=True)
    assert node.wait_exit(flood, timeout=60) == {"sent": n}
    report = node.wait_exit(reader, timeout=60)
    assert report["got"] == n and report["out_of_order"] == 0
    assert report["deepest"] <= MAILBOX_DEFAULT


def test_a_program_mailbox_is_bounded_and_reading_it_lets_the_sender_go_on(node):
    n = MAILBOX_DEFAULT + credit_batch(MAILBOX_DEFAULT)
    flood = node.spawn("app:flood", "app:a", node.pid, n, True, None, monitor=True)
    got = []
    while len(got) < n:                                   # the flood only ends if we read
        msg = node.receive(timeout=30)
        assert msg is not None, f"stalled after {len(got)} messages"
        got.append(msg.payload)
    assert got == list(range(n))
    assert node.wait_exit(flood, timeout=30) == {"sent": n}


def test_a_send_to_a_pid_on_an_os_process_that_never_existed_fails_like_a_dead_one(node):
    with pytest.raises(wippy.ProcessNotFound):
        node.send("{app:a/999|1}", "x", 1)
    out = node.exec("app:nowhere", "app:a", timeout=30)
    assert out == "ProcessNotFound: process {app:b/4242|3} not found"


def test_a_lua_process_waits_for_room_with_wait_send_and_is_told_by_send(node):
    n = 3 * MAILBOX_DEFAULT
    reader = spawn_ready(node, "app:reader", "app:a", n)
    sink = spawn_ready(node, "app:small_sink", "app:b")    # holds 50, unread; beside the sender
    flood = node.spawn("app:lua_flood", "app:b", reader, n, sink, monitor=True)
    out = node.wait_exit(flood, timeout=60)
    assert out["sent"] == n and out["refused_after"] == 50
    assert out["kind"] == "Unavailable" and "is not keeping up" in out["error"]
    report = node.wait_exit(reader, timeout=60)
    assert report["got"] == n and report["out_of_order"] == 0
    assert report["deepest"] <= MAILBOX_DEFAULT
    node.send(sink, "go")
    node.send(sink, "end")
    assert node.wait_exit(sink, timeout=30) == list(range(50))
