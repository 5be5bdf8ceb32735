"""``wippy lint`` over applications, files and inline sources, without running code."""
from __future__ import annotations

import textwrap
from pathlib import Path

import lupa.lua54 as lua54
import pytest

from wippy.typedlua.lint import LintIssue, lint_paths, lint_source


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def lua_compile(code: str, name: str) -> None:
    """What the Lua runtime would pass as ``compile``: Lua 5.4's own compiler."""
    fn = lua54.LuaRuntime().globals().load(code, "=" + name)
    if isinstance(fn, tuple):
        raise SyntaxError(fn[1])


@pytest.fixture
def app(tmp_path: Path) -> Path:
    _write(tmp_path, "config/_index.yaml", """
        version: "1.0"
        namespace: app
        entries:
          - name: processes
            kind: process.host
    """)
    _write(tmp_path, "workers/_index.yaml", """
        version: "1.0"
        namespace: app.workers
        entries:
          - name: typed
            kind: process.lua
            source: file://typed.lua
            method: main
            modules: [time]
          - name: inline
            kind: function.lua
            method: run
            source: |
              local function run(x: number): number
                return x +
              end
              return {run = run}
          - name: oneliner
            kind: function.lua
            method: run
            source: "local x: = 1"
    """)
    _write(tmp_path, "workers/typed.lua", """
        local time = require("time")
        local json = require("json")
        type User = {name: string, age: number @between(1, 2)}
        local function main(): integer
          local u: Usr = {name = "x"}
          return 0
        end
        return {main = main}
    """)
    _write(tmp_path, "workers/lib/stray.lua", """
        local x = 1
        goto nowhere
    """)
    return tmp_path


def test_lint_reports_every_problem_of_an_application_with_its_place(app: Path) -> None:
    issues = lint_paths([str(app)], compile=lua_compile)
    typed = str((app / "workers/typed.lua").resolve())
    index = str((app / "workers/_index.yaml").resolve())
    stray = str((app / "workers/lib/stray.lua").resolve())
    assert [str(i) for i in issues] == [
        f"{index}:15:7: error: entry app.workers:inline: unexpected symbol near 'end'",
        f"{index}:20:23: error: entry app.workers:oneliner: type expected near '='",
        f"{stray}:3:0: error: no visible label 'nowhere' for <goto> at line 2",
        f"{typed}:2:22: warning: entry app.workers:typed: require('json'): not in the entry's "
        "modules: or imports: (fails at run time)",
        f"{typed}:3:41: warning: entry app.workers:typed: unknown validator '@between' "
        "(ignored at run time)",
        f"{typed}:5:12: warning: entry app.workers:typed: unknown type 'Usr'",
    ]


def test_lint_of_a_single_file_and_of_a_missing_path(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.lua", "local x: number = 1\nreturn x\n")
    bad = _write(tmp_path, "bad.lua", "local function f(x: number\nend\n")
    issues = lint_paths([str(good), str(bad), str(tmp_path / "nope.lua")])
    assert [str(i) for i in issues] == [
        f"{(tmp_path / 'bad.lua').resolve()}:2:1: error: ')' expected near 'end'",
        f"{tmp_path / 'nope.lua'}:0:0: error: no such file or directory",
    ]


def test_a_tree_without_registry_files_is_linted_as_lua_files(tmp_path: Path) -> None:
    _write(tmp_path, "a/b.lua", "type T = {x: Nope}\n")
    issues = lint_paths([str(tmp_path)])
    assert [(Path(i.path).name, i.line, i.col, i.severity, i.message) for i in issues] == [
        ("b.lua", 1, 14, "warning", "unknown type 'Nope'")]


def test_config_errors_of_the_application_are_lint_errors(tmp_path: Path) -> None:
    _write(tmp_path, "_index.yaml", """
        version: "1.0"
        namespace: app
        entries:
          - name: p
            kind: process.lua
            source: file://missing.lua
            method: main
    """)
    issues = lint_paths([str(tmp_path)])
    assert len(issues) == 1 and issues[0].severity == "error"
    assert "file not found" in issues[0].message and issues[0].entry == "app:p"


def test_lint_source_with_offsets_and_a_clean_source() -> None:
    assert lint_source("local x: number = 1", "x.lua") == []
    [issue] = lint_source("\nlocal y: = 1", "app.yaml", entry="ns:e", line_offset=10,
                          col_offset=4)
    assert issue == LintIssue("app.yaml", 12, 14, "error", "type expected near '='", "ns:e")


def test_check_entry_gives_config_issues_for_the_loader_and_registry_apply(app: Path) -> None:
    from wippy.registry.loader import Entry, load_entries_from_text

    index = app / "workers/_index.yaml"
    entries = load_entries_from_text(index.read_text(), str(index), str(app / "workers"))
    from wippy.typedlua.lint import check_entry
    by_name = {e.name: e for e in entries}
    [issue] = check_entry(by_name["oneliner"])
    assert str(issue) == f"{index}:20:23: entry app.workers:oneliner: field 'source': " \
                         "type expected near '='"
    assert check_entry(by_name["typed"]) == []          # warnings are not load errors
    applied = Entry.from_plain({"id": "ns:x", "kind": "process.lua",
                                "data": {"source": "local x: = 1", "method": "main"}})
    [issue] = check_entry(applied)
    assert (issue.path, issue.line, issue.col, issue.entry) == ("ns:x", 1, 10, "ns:x")
