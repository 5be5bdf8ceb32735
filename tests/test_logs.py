"""Log lines name their source and come as text or one JSON object per line (S10)."""
from __future__ import annotations

import io
import json
import logging

import pytest

from wippy import logs

pytestmark = [pytest.mark.timeout(10)]


def record(name: str = "wippy.registry", msg: str = "registry v%d committed", args: tuple = (3,),
           level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    r = logging.LogRecord(name, level, __file__, 1, msg, args, None)
    for k, v in extra.items():
        setattr(r, k, v)
    return r


def test_a_node_line_names_the_node_and_its_part_never_just_node():
    f = logs.Formatter(logs.LogFormat.TEXT, "node", clock=False)
    assert f.format(record()) == "INFO  node registry: registry v3 committed"
    assert f.format(record("wippy.node", "stopping", ())) == "INFO  node: stopping"


def test_a_line_logged_while_a_process_runs_names_its_pid_and_entry():
    f = logs.Formatter(logs.LogFormat.TEXT, "app:p/1", lambda: ("{app:p/1|7}", "app:worker"),
                       clock=False)
    line = f.format(record("myapp", "hello %s", ("you",), logging.WARNING))
    assert line == "WARN  {app:p/1|7} app:worker: hello you"


def test_a_host_line_outside_any_process_names_the_host_and_the_part():
    f = logs.Formatter(logs.LogFormat.TEXT, "app:p/1", lambda: None, clock=False)
    assert f.format(record("wippy.runtime", "dropped", ())) == "INFO  app:p/1 runtime: dropped"


def test_the_caller_may_name_the_process_itself_and_its_fields_go_to_json():
    f = logs.Formatter(logs.LogFormat.JSON, "app:p/2", lambda: ("{x|1}", "wrong"))
    obj = json.loads(f.format(record("wippy.lua", "%s", ("sent round=1",), wippy_pid="{app:p/2|3}",
                                     wippy_entry="app:pinger", wippy_msg="sent",
                                     wippy_fields={"round": 1})))
    assert {k: obj[k] for k in ("level", "host", "pid", "entry", "logger", "msg", "fields")} == {
        "level": "info", "host": "app:p/2", "pid": "{app:p/2|3}", "entry": "app:pinger",
        "logger": "wippy.lua", "msg": "sent", "fields": {"round": 1}}
    assert obj["ts"].endswith("Z") and obj["node"]


def test_json_lines_carry_the_traceback_as_error():
    f = logs.Formatter(logs.LogFormat.JSON, "node")
    try:
        raise ValueError("bad")
    except ValueError:
        import sys
        r = record("wippy.node", "it failed", ())
        r.exc_info = sys.exc_info()
    obj = json.loads(f.format(r))
    assert obj["msg"] == "it failed" and "ValueError: bad" in obj["error"] and obj["pid"] is None


def test_a_broken_source_callback_never_loses_the_line():
    def boom() -> None:
        raise RuntimeError("no scheduler")
    f = logs.Formatter(logs.LogFormat.TEXT, "app:p/1", boom, clock=False)  # type: ignore[arg-type]
    assert f.format(record("wippy.host", "x", ())) == "INFO  app:p/1: x"


def test_levels_are_named_and_an_unknown_one_names_the_choices():
    assert logs.parse_level("INFO") == logging.INFO and logs.parse_level("warn") == logging.WARNING
    with pytest.raises(ValueError, match="choose from debug, info, warning, error, critical"):
        logs.parse_level("verbose")


def test_setup_replaces_the_handlers_a_forked_host_inherited():
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        first, second = io.StringIO(), io.StringIO()
        logs.setup("info", "text", "node", stream=first)
        logs.setup("warning", "json", "app:h/1", stream=second)
        logging.getLogger("wippy.test").warning("only here")
        logging.getLogger("wippy.test").info("not shown")
        assert first.getvalue() == ""
        [line] = second.getvalue().splitlines()
        assert json.loads(line)["host"] == "app:h/1"
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved:
            root.addHandler(h)
        root.setLevel(level)
