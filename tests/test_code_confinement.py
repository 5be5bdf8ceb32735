"""Code lives inside the application (S9): ``file://`` sources may not leave it, and a process
may not create or alter Python code at run time.

The attack these close: a sandboxed Lua process with ``modules: [registry]`` registered a
``process.py`` (or ``function.py``) entry whose source was the standard library's ``os.py``,
method ``system``, and ran shell commands as the node's user."""
from __future__ import annotations

import os

import pytest
from conftest import write_app

import wippy
from wippy.errors import ConfigError, PermissionDenied
from wippy.registry import entry as sources  # the module under test
from wippy.registry.loader import load_app

STDLIB_OS = os.__file__


# -- the rule, alone ----------------------------------------------------------------------

def test_a_path_inside_the_application_is_inside(tmp_path) -> None:
    (tmp_path / "w").mkdir()
    assert sources.is_inside(str(tmp_path / "w" / "a.py"), str(tmp_path))
    assert sources.outside_reason(str(tmp_path / "w" / "a.py"), str(tmp_path)) is None


def test_dotdot_and_absolute_paths_out_of_the_application_are_outside(tmp_path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    escaped = sources.source_path("file://../../etc/passwd", str(app))
    assert not sources.is_inside(escaped, str(app))
    assert "outside the application directory" in sources.outside_reason(STDLIB_OS, str(app))
    # a sibling whose name merely starts with the application's name is outside too
    assert not sources.is_inside(str(tmp_path / "app2" / "x.py"), str(app))


def test_a_symlink_leading_out_is_outside_and_named(tmp_path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    link = app / "os_link.py"
    link.symlink_to(STDLIB_OS)
    reason = sources.outside_reason(str(link), str(app))
    assert reason is not None and "a symlink to" in reason and os.path.realpath(STDLIB_OS) in reason


def test_loading_code_of_an_entry_outside_the_application_is_refused(tmp_path) -> None:
    """Defence in depth: a registry written before the rule may still hold such an entry."""
    sources.set_app_root(str(tmp_path))
    try:
        entry = {"id": "old:evil", "kind": "process.py", "base_dir": str(tmp_path),
                 "data": {"source": "file://" + STDLIB_OS, "method": "system"}}
        with pytest.raises(PermissionDenied, match="old:evil.*outside the application"):
            sources.code_file(entry)
        inside = {"id": "app:ok", "base_dir": str(tmp_path), "data": {"source": "file://a.py"}}
        assert sources.code_file(inside) == str(tmp_path / "a.py")
    finally:
        sources.set_app_root(None)  # type: ignore[arg-type]


# -- at boot --------------------------------------------------------------------------------

def _boot_errors(app_dir: str, source: str) -> str:
    write_app(app_dir, {"config/_index.yaml": f"""
        version: "1.0"
        namespace: app
        entries:
          - name: main
            kind: process.host
          - name: evil
            kind: function.py
            source: "{source}"
            method: system
        """})
    with pytest.raises(ConfigError) as info:
        load_app(app_dir)
    return str(info.value)


def test_boot_refuses_a_source_in_the_standard_library_by_absolute_path(app_dir) -> None:
    err = _boot_errors(app_dir, "file://" + STDLIB_OS)
    assert "entry app:evil: field 'source'" in err and "absolute path" in err


def test_boot_refuses_a_source_reached_through_dotdot(app_dir) -> None:
    rel = os.path.relpath(STDLIB_OS, os.path.join(app_dir, "config"))
    err = _boot_errors(app_dir, "file://" + rel)
    assert "entry app:evil: field 'source'" in err and "outside the application directory" in err


def test_boot_refuses_a_source_through_a_symlink_leading_out(app_dir) -> None:
    os.makedirs(os.path.join(app_dir, "config"), exist_ok=True)
    os.symlink(STDLIB_OS, os.path.join(app_dir, "config", "helper.py"))
    err = _boot_errors(app_dir, "file://helper.py")
    assert "outside the application directory" in err and "a symlink to" in err


# -- at run time, tried by a hostile Lua agent ---------------------------------------------

CONFIG = """
version: "1.0"
namespace: app
entries:
  - name: main
    kind: process.host
  - name: agent
    kind: process.lua
    source: file://agent.lua
    method: main
    modules: [registry, funcs]
  - name: helper
    kind: function.py
    source: file://helper.py
    method: double
"""

AGENT = """
local registry = require("registry")
local funcs = require("funcs")

local function try(entry)
  local changes = registry.snapshot():changes()
  changes:create(entry)
  local version, err = changes:apply()
  if err then return tostring(err:message()) end
  return "accepted"
end

local function main(stdlib_os, host)
  local out = {}
  out.abs = try({id = "gen:a", kind = "function.py", data = {source = "file://" .. stdlib_os, method = "system"}})
  out.dotdot = try({id = "gen:b", kind = "process.py",
                    data = {source = "file://../../../../../../../../.." .. stdlib_os, method = "system"}})
  out.inside = try({id = "gen:c", kind = "function.py", data = {source = "file://config/helper.py", method = "double"}})
  out.link = try({id = "gen:d", kind = "function.py", data = {source = "file://config/link.py", method = "system"}})
  local current = registry.get("app:helper")
  local changes = registry.snapshot():changes()
  changes:update({id = "app:helper", kind = "function.py", meta = current.meta,
                  data = {source = current.data.source, method = "other"}})
  local _, err = changes:apply()
  out.alter = err and err:message() or "accepted"
  local r, cerr = funcs.call("gen:a", "echo pwned")
  out.call = cerr and cerr:message() or tostring(r)
  out.version = registry.current_version():id()
  return out
end
return {main = main}
"""

HELPER = """
def double(x):
    return x * 2

def other(x):
    return x
"""


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_a_lua_agent_cannot_register_python_code_by_any_path(app_dir) -> None:
    write_app(app_dir, {"config/_index.yaml": CONFIG, "config/agent.lua": AGENT,
                        "config/helper.py": HELPER})
    os.symlink(STDLIB_OS, os.path.join(app_dir, "config", "link.py"))
    with wippy.Node(app_dir) as node:
        v0 = int(node.registry.current_version())
        out = node.exec("app:agent", "app:main", STDLIB_OS, "app:main", timeout=20)
        assert "outside the application directory" in out["abs"]
        assert "outside the application directory" in out["dotdot"]
        assert "outside the application directory" in out["link"]
        assert "registry.apply.python" in out["inside"]     # inside, but Python from a process
        assert "registry.apply.python" in out["alter"]      # altering operator's Python code
        assert "gen:a not found" in out["call"] or "not found" in out["call"]
        assert out["version"] == v0                          # nothing committed
        assert node.registry.get("app:helper")["data"]["method"] == "double"
        # the operator's own API may still register Python code from the application's files
        v = node.registry.snapshot().changes().create(
            {"id": "op:fn", "kind": "function.py",
             "data": {"source": "file://" + os.path.join(app_dir, "config", "helper.py"),
                      "method": "double"}}).apply()
        assert int(v) == v0 + 1
        assert node.call("op:fn", 21) == 42
