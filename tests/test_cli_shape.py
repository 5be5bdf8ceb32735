"""The command line has one shape: APP the same way everywhere, help for every option, --json on
listings, --version, init, logs that name their source (S10)."""
from __future__ import annotations

import argparse
import json
import os
import shutil

import pytest
from conftest import run_wippy, wait_until, write_app

import wippy
from wippy.cli.main import build_parser

pytestmark = [pytest.mark.timeout(90)]

WF_APP = os.path.join(os.path.dirname(__file__), "data", "apps", "wf")


def _parsers(p: argparse.ArgumentParser, path: str = "wippy"):
    yield path, p
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_option_of_every_command_has_help_text():
    missing = [f"{path} {a.option_strings or a.dest}" for path, p in _parsers(build_parser())
               for a in p._actions
               if a.help is None and not isinstance(a, argparse._SubParsersAction)]
    assert not missing, missing


def test_every_command_that_takes_an_application_takes_it_positionally_and_as_app():
    subs = dict(_parsers(build_parser()))
    for cmd in ("run", "ps", "top", "stop", "pack"):
        dests = {a.dest for a in subs[f"wippy {cmd}"]._actions}
        assert {"app", "app_opt"} <= dests, cmd
    for cmd in ("registry", "workflow", "lint"):
        assert "app_opt" in {a.dest for a in subs[f"wippy {cmd}"]._actions}, cmd


def test_version_and_help():
    r = run_wippy(["--version"])
    assert r.returncode == 0 and r.stdout.startswith(f"wippy {wippy.__version__}")
    r = run_wippy(["run", "--help"])
    flat = " ".join(r.stdout.split())
    assert r.returncode == 0 and "debug, info, warning, error, critical" in flat
    assert "WIPPY_LOG_LEVEL" in flat and "--log-format" in flat


def test_an_unknown_log_level_names_the_choices_without_a_traceback():
    r = run_wippy(["run", "--log-level", "verbose"])
    assert r.returncode == 2 and "invalid choice: 'verbose'" in r.stderr
    assert "Traceback" not in r.stderr


def test_lint_json_is_a_flag_not_a_path(app_dir):
    write_app(app_dir, {"config/_index.yaml": """
        namespace: app
        entries:
          - name: h
            kind: process.host
          - name: bad
            kind: process.lua
            source: file://bad.lua
            method: main
        """, "config/bad.lua": "local x: = nil\nreturn {main = function() end}\n"})
    r = run_wippy(["lint", app_dir, "--json"])
    assert r.returncode == 1
    [issue] = json.loads(r.stdout)
    assert issue["severity"] == "error" and issue["line"] == 1 and issue["entry"] == "app:bad"


def test_completion_script_names_every_command():
    r = run_wippy(["completion"])
    assert r.returncode == 0 and "complete -o default -F _wippy wippy" in r.stdout
    for cmd in ("run", "top", "ps", "init", "pack", "workflow"):
        assert f"{cmd})" in r.stdout


@pytest.mark.integration
def test_init_writes_a_lock_and_a_hello_app_that_runs(app_dir):
    r = run_wippy(["init", app_dir])
    assert r.returncode == 0, r.stderr
    assert open(os.path.join(app_dir, "wippy.lock")).read().startswith("directories:")
    r = run_wippy(["run", "-x", "app:hello", "you"], cwd=app_dir)
    assert (r.returncode, r.stdout) == (0, r.stdout) and r.stdout.startswith("Hello, you! from {")
    r = run_wippy(["init", app_dir])                  # never overwrites
    assert r.returncode == 0 and "nothing to do" in r.stderr


def test_init_in_a_project_with_code_writes_only_the_lock(app_dir):
    write_app(app_dir, {"src/_index.yaml": "namespace: x\nentries: []\n"})
    r = run_wippy(["init", app_dir])
    assert r.returncode == 0
    assert sorted(os.listdir(os.path.join(app_dir, "src"))) == ["_index.yaml"]
    assert os.path.exists(os.path.join(app_dir, "wippy.lock"))


LOGGING_APP = {
    "config/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - name: procs
            kind: process.host
          - name: talker
            kind: process.lua
            source: file://talker.lua
            method: main
            modules: [logger]
          - name: pytalker
            kind: process.py
            source: file://talker.py
            method: main
          - name: lua_svc
            kind: process.service
            process: talker
            host: procs
            lifecycle: {auto_start: true}
          - name: py_svc
            kind: process.service
            process: pytalker
            host: procs
            lifecycle: {auto_start: true}
    """,
    "config/talker.lua": """
        local logger = require("logger")
        local function main()
          logger:info("lua says hi", {round = 1})
          local ev = process.events():receive()
          return 0
        end
        return {main = main}
    """,
    "config/talker.py": """
        import logging
        from wippy import process

        async def main():
            logging.getLogger("talker").info("python says hi")
            await process.events().receive()
    """,
}


def _run_until(app_dir: str, args: list[str], want: str) -> str:
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-m", "wippy", "run", app_dir, *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        for line in proc.stderr:            # type: ignore[union-attr]
            lines.append(line)
            if want in "".join(lines) and sum(1 for l in lines if "says hi" in l) >= 2:
                break
    finally:
        proc.send_signal(__import__("signal").SIGINT)
        rest, _ = proc.communicate(timeout=30)
    return "".join(lines) + (proc.stderr.read() if proc.stderr and not proc.stderr.closed else "")


@pytest.mark.integration
def test_run_shows_info_lines_that_name_the_process_pid_and_entry(app_dir):
    write_app(app_dir, LOGGING_APP)
    text = _run_until(app_dir, [], "node ready")
    lua = next(l for l in text.splitlines() if "lua says hi" in l)
    py = next(l for l in text.splitlines() if "python says hi" in l)
    assert "INFO" in lua and "{app:procs/" in lua and "app:talker: lua says hi round=1" in lua
    assert "{app:procs/" in py and "app:pytalker: python says hi" in py
    assert "node registry: registry v0 committed" in text


@pytest.mark.integration
def test_json_log_lines_are_one_object_each_with_their_source(app_dir):
    write_app(app_dir, LOGGING_APP)
    text = _run_until(app_dir, ["--log-format", "json"], "node ready")
    objs = [json.loads(l) for l in text.splitlines() if l.strip()]
    lua = next(o for o in objs if o["msg"] == "lua says hi")
    assert lua["fields"] == {"round": 1} and lua["entry"] == "app:talker"
    assert lua["pid"].startswith("{app:procs/") and lua["host"].startswith("app:procs/")
    assert {"ts", "level", "node", "host", "pid", "entry", "msg", "fields"} <= set(lua)
    assert any(o["msg"].startswith("node ready") for o in objs)


@pytest.mark.integration
def test_exec_shows_warnings_only(app_dir):
    write_app(app_dir, {**LOGGING_APP, "config/once.lua": """
        local logger = require("logger")
        return {main = function() logger:info("quiet"); logger:warn("loud"); return 0 end}
    """})
    with open(os.path.join(app_dir, "config/_index.yaml"), "a") as fh:
        fh.write("  - {name: once, kind: process.lua, source: file://once.lua, method: main, "
                 "modules: [logger]}\n")
    r = run_wippy(["run", app_dir, "-x", "app:once"])
    assert r.returncode == 0, r.stderr
    assert "loud" in r.stderr and "quiet" not in r.stderr and "says hi" not in r.stderr


@pytest.mark.integration
def test_registry_and_workflow_take_app_first_list_as_json_and_find_workflows_by_name(app_dir):
    app = os.path.join(app_dir, "app")
    shutil.copytree(WF_APP, app)
    with wippy.Node(app):
        r = run_wippy(["workflow", app, "start", "app:waiter", '{"n": 1}', "--name", "w1"])
        assert r.returncode == 0, r.stderr
        pid = r.stdout.strip()
        assert pid.startswith("{wf/0|")
        r = run_wippy(["workflow", app, "start", "app:waiter", '{"n": 1}', "--name", "w1"])
        assert r.stdout.strip() == pid                   # a name makes the start idempotent
        r = run_wippy(["workflow", app, "show", "w1"])
        assert r.returncode == 0 and "app:waiter" in r.stdout and "name w1" in r.stdout
        r = run_wippy(["workflow", app, "list", "--json"])
        [wf] = json.loads(r.stdout)
        assert wf["name"] == "w1" and wf["status"] == "running"
        assert run_wippy(["workflow", app, "signal", "w1", "go", '{"x": 1}']).returncode == 0
        wait_until(lambda: json.loads(run_wippy(["workflow", app, "show", "w1", "--json"]).stdout)
                   ["status"] == "completed", 20, 0.2, what="the workflow to complete")
        r = run_wippy(["workflow", app, "cancel", "nobody"])
        assert r.returncode == 1 and "no workflow with the ID or name 'nobody'" in r.stderr
        r = run_wippy(["registry", app, "list", "--json", "--kind", "workflow.py"])
        listed = json.loads(r.stdout)
        assert {e["id"] for e in listed["entries"]} >= {"app:order", "app:waiter"}
        assert all(e["kind"] == "workflow.py" for e in listed["entries"])
        r = run_wippy(["registry", "list", "--app", app])    # the old spelling still works
        assert r.returncode == 0 and "app:waiter" in r.stdout


class _Lines:
    """stderr of a running `wippy run`, read line by line with a deadline."""

    def __init__(self, proc: "subprocess.Popen[str]") -> None:
        self.proc = proc
        self.seen: list[str] = []
        self._partial = b""

    def wait_for(self, text: str, timeout: float = 30) -> str:
        import select
        import time
        deadline = time.monotonic() + timeout
        while True:
            for line in self.seen:
                if text in line:
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line with {text!r} in:\n{''.join(self.seen)}")
            # read the fd itself: a buffered readline() after select() can swallow lines
            # that arrived together, leaving them in the buffer while select() waits on
            fd = self.proc.stderr.fileno()              # type: ignore[union-attr]
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError(f"stderr closed before {text!r}:\n{''.join(self.seen)}")
                *whole, self._partial = (self._partial + chunk).split(b"\n")
                self.seen.extend(line.decode(errors="replace") + "\n" for line in whole)


@pytest.mark.integration
def test_a_hot_reload_commit_a_restart_and_a_stop_are_each_an_info_line(app_dir):
    import signal
    import subprocess
    import sys
    write_app(app_dir, LOGGING_APP)
    proc = subprocess.Popen([sys.executable, "-m", "wippy", "run", app_dir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lines = _Lines(proc)
        lines.wait_for("node ready")
        path = os.path.join(app_dir, "config", "talker.py")
        with open(path, "a") as fh:
            fh.write("\n# edited\n")
        commit = lines.wait_for("registry v1 committed")
        assert "INFO" in commit and "node registry:" in commit and "(files)" in commit
        again = lines.wait_for("service app:py_svc started again as {app:procs/")
        assert "INFO  node supervisor:" in again
        proc.send_signal(signal.SIGINT)
        stop = lines.wait_for("stopping (signal SIGINT)")
        assert stop.split()[1] == "INFO"
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        proc.stderr.close()         # type: ignore[union-attr]
