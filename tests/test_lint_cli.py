"""Typed Lua at the edges: `wippy lint`, rejection at load and at registry apply."""
from __future__ import annotations

import pytest
from conftest import run_wippy, write_app

import wippy

pytestmark = [pytest.mark.timeout(60)]

INDEX = """
namespace: app
entries:
  - name: h
    kind: process.host
  - name: typed
    kind: process.lua
    source: file://typed.lua
    method: main
"""
GOOD = """local function main(n: integer): integer
  local x: number? = nil
  return n + 1
end
return {main = main}
"""
BAD = GOOD.replace("local x: number? = nil", "local x: = nil")


def test_lint_reports_file_line_col_and_exits_1_on_errors(app_dir):
    write_app(app_dir, {"config/_index.yaml": INDEX, "config/typed.lua": GOOD})
    assert run_wippy(["lint", app_dir]).returncode == 0
    write_app(app_dir, {"config/typed.lua": BAD})
    r = run_wippy(["lint", app_dir])
    assert r.returncode == 1
    assert r.stdout.strip().splitlines() == [
        f"{app_dir}/config/typed.lua:2:12: error: entry app:typed: type expected near '='"]


@pytest.mark.integration
def test_typed_lua_that_does_not_translate_is_rejected_at_load(app_dir):
    write_app(app_dir, {"config/_index.yaml": INDEX, "config/typed.lua": BAD})
    r = run_wippy(["run", app_dir])
    assert r.returncode == 1
    assert "config/typed.lua:2:12: entry app:typed: field 'source': type expected near '='" in r.stderr


@pytest.mark.integration
def test_typed_lua_runs_and_a_bad_inline_change_is_rejected(app_dir):
    write_app(app_dir, {"config/_index.yaml": INDEX, "config/typed.lua": GOOD})
    with wippy.Node(app_dir) as node:
        assert node.exec("app:typed", "app:h", 41, timeout=10) == 42
        with pytest.raises(wippy.RegistryError, match=r"entry app:bad: field 'source': line 1:\d+"):
            node.registry.snapshot().changes().create(
                {"id": "app:bad", "kind": "function.lua",
                 "data": {"source": "local function f(x: ) return x end return {f = f}",
                          "method": "f"}}).apply()
