"""Wippy's ``exec`` module (``en/lua/dynamic/exec.md``, ``en/system/exec.md``): the docs'
examples run real OS commands through ``exec.native`` entries; a command outside the entry's
whitelist, a process without ``exec.get``/``exec.run``, and a child left running when its
process ends are each handled. In-process host (no sockets), real subprocesses."""
from __future__ import annotations

import os
import signal

import psutil
import pytest
from test_lua_harness import host_factory, lua_entry  # noqa: F401 - fixture

from conftest import wait_until
from wippy.exec import split_command
from wippy.registry.kinds import validate
from wippy.security import context
from wippy.security.book import BOOK

pytestmark = pytest.mark.timeout(30)

PATH_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def executor(id: str = "app:exec", **data) -> dict:
    return {"id": id, "kind": "exec.native", "meta": {}, "data": data, "base_dir": "/"}


def run(host_factory, entries, body: str, *args, as_actor=None, extra=()):
    src = ("local exec = require('exec')\nlocal function main(...)\n" + body +
           "\nend\nreturn {main = main}")
    h = host_factory(lua_entry("t:main", src, modules=["exec"]), *entries, *extra)
    if as_actor is None:
        return h.exec("t:main", *args, timeout=20)
    pid = h.rt.spawn("{client/2|0}", "t:main", "app:h", list(args), 1,
                     security=context.from_wire(as_actor))
    return h.wait_exit(pid, 20)


def test_split_command_is_wippys():
    assert split_command("echo 'Hello, World!'") == ["echo", "Hello, World!"]
    assert split_command('  a "b c"  d  ') == ["a", "b c", "d"]
    assert split_command("sh -c 'echo $HOME; ls | wc'") == ["sh", "-c", "echo $HOME; ls | wc"]
    assert split_command("x ''") == ["x", ""]


def test_docs_acquire_and_simple_command_examples(host_factory):
    got = run(host_factory, [executor()], """
        local executor, err = exec.get("app:exec")
        if err then
            return nil, err
        end

        -- Use executor
        local proc = executor:exec("ls -la")
        -- ...

        -- Simple command
        local proc, err = executor:exec("echo 'Hello, World!'")
        local out = proc:stdout_stream()
        proc:start()
        local text = out:read()
        local code = proc:wait()

        -- Release when done
        executor:release()
        local _, released = executor:exec("echo again")
        return {text, code, released:kind()}""")
    assert got == ["Hello, World!\n", 0, "Invalid"]


def test_docs_streams_example_reads_stdout_and_stderr(host_factory, tmp_path):
    script = tmp_path / "process-data.sh"
    script.write_text("#!/bin/sh\necho out-line\necho err-line >&2\n")
    script.chmod(0o755)
    got = run(host_factory, [executor(default_work_dir=str(tmp_path), default_env=PATH_ENV)], """
        local executor = exec.get("app:exec")
        local proc = executor:exec("./process-data.sh")

        local stdout = proc:stdout_stream()
        local stderr = proc:stderr_stream()

        proc:start()

        -- Read all stdout
        local output = {}
        while true do
            local chunk = stdout:read(4096)
            if not chunk then break end
            table.insert(output, chunk)
        end
        local result = table.concat(output)

        -- Check for errors
        local err_output = {}
        while true do
            local chunk = stderr:read(4096)
            if not chunk then break end
            table.insert(err_output, chunk)
        end

        local exit_code = proc:wait()

        stdout:close()
        stderr:close()

        if exit_code ~= 0 then
            return nil, errors.new("INTERNAL", table.concat(err_output))
        end

        return result""")
    assert got == "out-line\n"


def test_docs_write_stdin_example_pipes_data_through_sort(host_factory):
    got = run(host_factory, [executor()], """
        local executor = exec.get("app:exec")
        -- Pipe data to command
        local proc = executor:exec("sort")
        local stdout = proc:stdout_stream()

        proc:start()

        -- Write input
        proc:write_stdin("banana\\napple\\ncherry\\n")
        proc:write_stdin("")  -- Signal EOF

        -- Read sorted output
        local sorted = stdout:read()
        print(sorted)  -- "apple\\nbanana\\ncherry\\n"

        proc:wait()
        stdout:close()
        return sorted""")
    assert got == "apple\nbanana\ncherry\n"


def test_docs_work_dir_env_and_start_wait_examples(host_factory, tmp_path):
    (tmp_path / "build.sh").write_text("#!/bin/sh\necho \"$DEPLOY_ENV:$DEBUG:$(pwd)\"\n")
    (tmp_path / "build.sh").chmod(0o755)
    got = run(host_factory, [executor(default_env=PATH_ENV)], """
        local dir = ...
        local executor = exec.get("app:exec")
        local proc = executor:exec("./build.sh", {
            work_dir = dir,
            env = {
                DEPLOY_ENV = "production",
                DEBUG = "true"
            }
        })
        local out = proc:stdout_stream()

        local ok, err = proc:start()
        if err then
            return nil, err
        end

        local exit_code, err = proc:wait()
        if err then
            return nil, err
        end

        if exit_code ~= 0 then
            return nil, errors.new("INTERNAL", "Build failed with exit code: " .. exit_code)
        end
        local _, again = proc:start()
        local _, waited = proc:wait()
        return {out:read(), again:kind(), waited:kind()}""", str(tmp_path))
    assert got == [f"production:true:{tmp_path}\n", "Invalid", "Invalid"]


def test_docs_creating_a_process_examples_make_processes_without_starting_them(host_factory):
    got = run(host_factory, [executor()], """
        local api_key = "k"
        local executor = exec.get("app:exec")
        -- Simple command
        local proc, err = executor:exec("echo 'Hello, World!'")

        -- With working directory
        local proc = executor:exec("npm install", {
            work_dir = "/app/project"
        })

        -- With environment variables
        local proc = executor:exec("python script.py", {
            work_dir = "/scripts",
            env = {
                PYTHONPATH = "/app/lib",
                DEBUG = "true",
                API_KEY = api_key
            }
        })

        -- Run shell script
        local proc = executor:exec("./deploy.sh production", {
            work_dir = "/app/scripts",
            env = {
                DEPLOY_ENV = "production"
            }
        })
        local _, not_started = proc:wait()
        return not_started:message()""")
    assert got == "process not started: call start() first"


def test_docs_signal_and_close_block_as_written(host_factory):
    got = run(host_factory, [executor()], """
        local executor = exec.get("app:exec")
        local proc = executor:exec("sleep 30")
        proc:start()

        -- ... later, need to stop it ...

        -- Graceful shutdown (SIGTERM)
        proc:close()

        -- Or force kill (SIGKILL)
        proc:close(true)

        -- Or send specific signal
        local SIGINT = 2
        local ok, err = proc:signal(SIGINT)
        return err:message()""")
    assert got == "process is closed"


def test_docs_signal_and_close_examples_stop_a_long_command(host_factory):
    got = run(host_factory, [executor()], """
        local executor = exec.get("app:exec")
        local codes = {}
        for _, how in ipairs({"term", "kill", "int"}) do
          local proc = executor:exec("sleep 30")
          proc:start()
          if how == "term" then
            -- Graceful shutdown (SIGTERM)
            proc:close()
            table.insert(codes, "closed")
          elseif how == "kill" then
            -- Or force kill (SIGKILL)
            proc:close(true)
            table.insert(codes, "killed")
          else
            -- Or send specific signal
            local SIGINT = 2
            proc:signal(SIGINT)
            table.insert(codes, proc:wait())
          end
        end
        return codes""")
    assert got == ["closed", "killed", -1]


def test_a_command_gets_signals_the_host_ignores(host_factory):
    # a node started from a background shell ignores SIGINT, and an ignored signal stays
    # ignored across exec: the command must still stop on SIGINT and SIGTERM
    ignored = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        got = run(host_factory, [executor()], """
            local executor = exec.get("app:exec")
            local codes = {}
            for _, sig in ipairs({2, 15}) do
              local proc = executor:exec("sleep 30")
              proc:start()
              proc:signal(sig)
              table.insert(codes, proc:wait())
            end
            return codes""")
    finally:
        for sig, old in ignored.items():
            signal.signal(sig, old)
    assert got == [-1, -1]


def test_a_command_outside_the_whitelist_is_refused(host_factory, tmp_path):
    marker = tmp_path / "ran"
    got = run(host_factory, [executor(command_whitelist=["git status", "echo ok"])], f"""
        local executor = exec.get("app:exec")
        local out = {{}}
        for _, cmd in ipairs({{"echo ok", "echo ok ", "touch {marker}", "echo ok; touch {marker}"}}) do
          local proc, err = executor:exec(cmd)
          table.insert(out, err and (err:kind() .. ": " .. err:message()) or "allowed")
        end
        return out""")
    assert got[0] == "allowed"
    for line in got[1:]:
        assert line.startswith("PermissionDenied: command not in the whitelist of executor "
                               "app:exec"), line
    assert not marker.exists()


def test_the_child_gets_a_clean_environment(host_factory):
    os.environ["WIPPY_TEST_SECRET"] = "leak"
    try:
        got = run(host_factory, [executor(default_env={"ONLY": "this"})], """
            local proc = exec.get("app:exec"):exec("env")
            local out = proc:stdout_stream()
            proc:start()
            local text = {}
            while true do
              local c = out:read()
              if not c then break end
              table.insert(text, c)
            end
            proc:wait()
            return table.concat(text)""")
    finally:
        del os.environ["WIPPY_TEST_SECRET"]
    assert got.split() == ["ONLY=this"]


def test_a_process_needs_exec_get_and_exec_run(host_factory, tmp_path):
    marker = tmp_path / "ran"
    pols = [{"id": f"s:{n}", "kind": "security.policy", "meta": {},
             "data": {"policy": {"actions": a, "resources": r, "effect": "allow"}}}
            for n, a, r in (("get", "exec.get", "app:exec"), ("run", "exec.run", "echo *"),
                            ("host", "process.host", "*"))]
    actor = [["agent:one", {}, ["s:get", "s:run", "s:host"], []]]
    try:
        got = run(host_factory, [executor(), executor("app:root")], f"""
            local out = {{}}
            local _, e1 = exec.get("app:root")
            table.insert(out, e1:kind() .. ": " .. e1:message())
            local ex = exec.get("app:exec")
            local _, e2 = ex:exec("touch {marker}")
            table.insert(out, e2:kind() .. ": " .. e2:message())
            local p = ex:exec("echo fine")
            local o = p:stdout_stream()
            p:start()
            table.insert(out, o:read())
            p:wait()
            return out""", as_actor=actor, extra=pols)
    finally:
        BOOK.attach(dict, lambda _id: None)
    assert got[0] == ("PermissionDenied: PERMISSION_DENIED: actor agent:one may not exec.get "
                      "app:root (no policy allows it)")
    assert got[1].startswith("PermissionDenied: PERMISSION_DENIED: actor agent:one may not "
                             "exec.run touch ")
    assert got[2] == "fine\n"
    assert not marker.exists()


def test_a_child_still_running_when_its_process_ends_is_killed(host_factory):
    got = run(host_factory, [executor(default_env=PATH_ENV)], """
        local proc = exec.get("app:exec"):exec("sh -c 'echo $$; exec sleep 60'")
        local out = proc:stdout_stream()
        proc:start()
        return out:read()""")
    child = int(got)              # it ran (it printed its pid); `sleep 60` is gone long before
    wait_until(lambda: not psutil.pid_exists(child)
               or psutil.Process(child).status() == psutil.STATUS_ZOMBIE, 5,
               what="the child to be killed")


def test_bad_ids_and_missing_executables_are_clear_errors(host_factory):
    got = run(host_factory, [executor(), {"id": "app:other", "kind": "registry.entry",
                                          "meta": {}, "data": {}}], """
        local out = {}
        for _, id in ipairs({"", "app:none", "app:other"}) do
          local _, err = exec.get(id)
          table.insert(out, err:kind() .. ": " .. err:message())
        end
        local ex = exec.get("app:exec")
        local _, empty = ex:exec("")
        table.insert(out, empty:kind())
        local p = ex:exec("no-such-command-here --x")
        local _, missing = p:start()
        table.insert(out, missing:kind() .. ": " .. missing:message())
        local _, early = p:wait()
        table.insert(out, early:message())
        return out""")
    assert got[:3] == ["Invalid: resource id is required", "NotFound: executor not found: app:none",
                       "Invalid: app:other is a registry.entry, not an executor"]
    assert got[3] == "Invalid"
    assert got[4] == ("NotFound: cannot start 'no-such-command-here --x': no-such-command-here: "
                      "no such file or directory")
    assert got[5] == "process not started: call start() first"


def test_docs_entry_yaml_validates():
    ok = validate("exec.native", {"default_work_dir": "/app", "default_env": {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "en_US.UTF-8"},
        "command_whitelist": ["git status", "git diff", "npm run build"]}, "app")
    assert ok.problems == []
    assert validate("exec.docker", {"image": "python:3.11-slim"}, "app").problems[0].message \
        == "unknown kind 'exec.docker'"


def test_a_child_dies_with_its_host_os_process(tmp_path):
    import subprocess
    import sys
    script = ("import os\nfrom wippy.exec import Process\n"
              "p = Process('sleep 60', ['sleep', '60'], {}, None, None)\np.start()\n"
              "print(p._popen.pid, flush=True)\nos._exit(9)\n")
    host = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30)
    assert host.returncode == 9, host.stderr
    child = int(host.stdout)
    wait_until(lambda: not psutil.pid_exists(child)
               or psutil.Process(child).status() == psutil.STATUS_ZOMBIE, 5,
               what="the orphaned command to die")
