"""Whether an entry's code defines its method (wippy/registry/methods.py), and where the loader
and the change planner report it when it does not."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import run_wippy, write_app

from wippy.errors import ConfigError, ConfigIssue
from wippy.registry.changes import ChangeRejected, plan
from wippy.registry.loader import load_app
from wippy.registry.methods import method_problem

pytestmark = pytest.mark.timeout(30)


def py(tmp_path: Path, text: str) -> dict:
    path = tmp_path / "code.py"
    path.write_text(textwrap.dedent(text))
    return {"source": f"file://{path}", "method": "main"}


def test_a_python_method_is_any_name_bound_at_the_top_level_of_its_file(tmp_path):
    for text in ("async def main(): pass\n", "def main(x): return x\n", "main = print\n",
                 "from os import getcwd as main\n", "import json\nif json:\n    def main(): pass\n",
                 "try:\n    from fast import main\nexcept ImportError:\n    main = None\n",
                 "from somewhere import *\n"):
        assert method_problem("process.py", py(tmp_path, text)) is None, text


def test_a_python_method_that_is_missing_or_nested_is_named_with_what_the_file_has(tmp_path):
    data = py(tmp_path, "def helper(): pass\nclass Worker:\n    def main(self): pass\n")
    assert method_problem("process.py", data) == \
        "code.py defines no top-level 'main' (it defines: Worker, helper)"
    data = py(tmp_path, "def main(:\n")
    assert method_problem("function.py", data).startswith("code.py:1: the code does not parse")


def test_a_lua_method_must_at_least_appear_in_its_source():
    good = {"source": "local function main() end\nreturn {main = main}", "method": "main"}
    assert method_problem("process.lua", good) is None
    bad = {"source": "local function run() end\nreturn {run = run}", "method": "main"}
    assert method_problem("process.lua", bad) == \
        "its source never mentions 'main': the table it returns cannot have that method"
    assert method_problem("library.lua", {"source": "return {}"}) is None   # no method


def test_boot_refuses_an_entry_whose_method_its_file_does_not_define(tmp_path):
    write_app(str(tmp_path), {
        "config/_index.yaml": """
            namespace: app
            entries:
              - name: h
                kind: process.host
              - name: svc
                kind: process.service
                process: worker
                host: h
                lifecycle: {auto_start: true}
              - name: worker
                kind: process.py
                source: file://worker.py
                method: mian
            """,
        "config/worker.py": "async def main():\n    return 1\n",
    })
    with pytest.raises(ConfigError) as info:
        load_app(str(tmp_path))
    assert [str(i) for i in info.value.issues] == [
        f"{tmp_path}/config/_index.yaml:13:5: entry app:worker: field 'method': worker.py "
        "defines no top-level 'mian' (it defines: main)"]
    done = run_wippy(["run", str(tmp_path)], timeout=60)
    assert done.returncode == 1 and "defines no top-level 'mian'" in done.stderr


def test_a_change_naming_a_missing_method_is_refused(tmp_path):
    (tmp_path / "code.py").write_text("def double(x):\n    return 2 * x\n")
    src = f"file://{tmp_path}/code.py"
    ops = [{"op": "create", "entry": {"id": "app:f", "kind": "function.py",
                                      "data": {"source": src, "method": "tripple"}}}]
    with pytest.raises(ChangeRejected) as info:
        plan({}, ops, str(tmp_path))
    assert info.value.issues == [
        "entry app:f: field 'method': code.py defines no top-level 'tripple' (it defines: double)"]
    lua = [{"op": "create", "entry": {"id": "app:l", "kind": "function.lua",
                                      "data": {"source": "return {run = function() end}",
                                               "method": "main"}}}]
    ok: list[ConfigIssue] = []
    with pytest.raises(ChangeRejected, match="never mentions 'main'"):
        plan({}, lua, str(tmp_path), check_code=lambda entry: ok)
