"""Loading applications (wippy.loader): YAML positions, discovery, errors, references."""
from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from wippy.errors import ConfigError
from wippy.registry.loader import (
    Entry,
    find_config_files,
    load_app,
    load_entries_from_text,
    load_yaml,
    source_file,
    validate_references,
)

MINIMAL = Path(__file__).parent / "data" / "apps" / "minimal"


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def _host_plus(extra: str) -> str:
    """HOST followed by more entries (written indented like the other test YAML)."""
    return HOST + textwrap.indent(textwrap.dedent(extra).lstrip("\n"), "  ")


def _issues(app: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_app(str(app))
    return [str(i) for i in info.value.issues]


def _text_issues(text: str, base_dir: str = ".") -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_entries_from_text(textwrap.dedent(text).lstrip("\n"), "f.yaml", base_dir)
    return [str(i) for i in info.value.issues]


HOST = """
namespace: app
entries:
  - name: processes
    kind: process.host
"""


# -- YAML ---------------------------------------------------------------------------------

def test_duplicate_key_is_reported_with_both_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.yaml", """
        a: 1
        b:
          x: 1
          x: 2
        """)
    with pytest.raises(ConfigError) as info:
        load_yaml(str(path))
    assert str(info.value) == f"{path}:4:3: duplicate key 'x' (first defined at line 3)"


def test_merge_keys_work_and_an_explicit_key_overrides_a_merged_one(tmp_path: Path) -> None:
    path = _write(tmp_path, "m.yaml", """
        base: &b {workers: 1, queue: 5}
        more: &m {extra: true}
        host:
          <<: [*b, *m]
          workers: 4
        """)
    doc = load_yaml(str(path))
    assert doc["host"] == {"workers": 4, "queue": 5, "extra": True}
    assert doc["host"]._pos["workers"] == (5, 3)


def test_key_positions_are_recorded_one_based(tmp_path: Path) -> None:
    path = _write(tmp_path, "p.yaml", """
        top:
          - name: a
            kind: b
        """)
    doc = load_yaml(str(path))
    assert doc._pos["top"] == (1, 1)
    assert doc["top"]._pos == [(2, 5)]
    assert doc["top"][0]._pos == {"name": (2, 5), "kind": (3, 5)}


def test_malformed_yaml_gives_path_line_col(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.yaml", "a: [1, 2\nb: 3\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(str(path))
    (issue,) = info.value.issues
    assert (issue.path, issue.line) == (str(path), 2)
    assert str(issue).startswith(f"{path}:2:")


def test_python_tags_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "evil.yaml", "a: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="could not determine a constructor"):
        load_yaml(str(path))


def test_timestamps_stay_strings(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.yaml", "created: 2024-05-01\n")
    assert load_yaml(str(path)) == {"created": "2024-05-01"}


# -- file and entry structure -------------------------------------------------------------

def test_top_level_must_be_a_mapping() -> None:
    assert _text_issues("- a\n- b\n") == [
        "f.yaml:1:1: top level must be a mapping with 'namespace' and 'entries'"]


def test_missing_namespace_is_reported() -> None:
    assert _text_issues("entries: []\n") == [
        "f.yaml:1:1: field 'namespace': required field missing"]


def test_invalid_namespace_points_at_the_field() -> None:
    issues = _text_issues("version: '1.0'\nnamespace: 'my app'\nentries: []\n")
    assert issues == ["f.yaml:2:1: field 'namespace': invalid namespace 'my app' "
                      "(expected dotted names such as 'app.workers')"]


def test_entries_must_be_a_list() -> None:
    assert _text_issues("namespace: app\nentries:\n  a: 1\n") == [
        "f.yaml:2:1: field 'entries': must be a list of entries"]


def test_entry_that_is_not_a_mapping_is_reported_at_its_line() -> None:
    issues = _text_issues("""
        namespace: app
        entries:
          - name: processes
            kind: process.host
          - just a string
        """)
    assert issues == ["f.yaml:5:5: entry #2 must be a mapping with 'name' and 'kind'"]


def test_missing_name_and_missing_kind_are_reported() -> None:
    issues = _text_issues("""
        namespace: app
        entries:
          - kind: process.host
          - name: x
        """)
    assert issues == ["f.yaml:3:5: field 'name': required field missing",
                      "f.yaml:4:5: entry app:x: field 'kind': required field missing"]


def test_unknown_kind_is_an_error_at_the_kind_line() -> None:
    issues = _text_issues("""
        namespace: app
        entries:
          - name: x
            kind: process.hosst
        """)
    assert issues == ["f.yaml:4:5: entry app:x: field 'kind': unknown kind 'process.hosst'; "
                      "did you mean 'process.host'?"]


def test_per_kind_error_has_file_line_col_entry_and_field() -> None:
    issues = _text_issues("""
        namespace: app
        entries:
          - name: processes
            kind: process.host
            host:
              workers: 0
        """)
    assert issues == ["f.yaml:6:7: entry app:processes: field 'host.workers': "
                      "must be an integer >= 1, got int 0"]


def test_yaml_boolean_in_strategy_is_an_error_naming_the_field() -> None:
    issues = _text_issues("""
        namespace: app
        entries:
          - name: sup
            kind: supervisor
            strategy: yes
        """)
    assert len(issues) == 1
    assert issues[0].startswith("f.yaml:5:5: entry app:sup: field 'strategy': must be one of "
                                "one_for_one, one_for_all, rest_for_one, got boolean true")


def test_missing_required_field_points_at_the_entry() -> None:
    issues = _text_issues("""
        namespace: app
        entries:
          - name: svc
            kind: process.service
            host: processes
        """)
    assert issues == ["f.yaml:3:5: entry app:svc: field 'process': required field missing"]


def test_unknown_field_is_a_warning_and_dropped() -> None:
    warnings: list[str] = []
    (entry,) = load_entries_from_text(HOST.lstrip() + "    foo: 1\n", "f.yaml",
                                      warnings=warnings)
    assert warnings == ["f.yaml:5:5: entry app:processes: field 'foo': unknown field, ignored"]
    assert "foo" not in entry.data


def test_all_errors_are_collected_before_raising() -> None:
    issues = _text_issues("""
        namespace: app
        entries:
          - name: a
            kind: nope
          - name: b
            kind: supervisor
            intensity: -1
          - name: c
        """)
    assert [i.split(": ")[0] for i in issues] == ["f.yaml:4:5", "f.yaml:7:5", "f.yaml:8:5"]


def test_duplicate_entry_id_in_one_file() -> None:
    issues = _text_issues(HOST + "  - name: processes\n    kind: terminal.host\n")
    assert issues == ["f.yaml:5:5: entry app:processes: duplicate entry id, "
                      "first defined at f.yaml:3:5"]


def test_defaults_are_filled_in_entry_data() -> None:
    (entry,) = load_entries_from_text(HOST, "f.yaml")
    assert entry.id == "app:processes"
    assert (entry.namespace, entry.name, entry.kind) == ("app", "processes", "process.host")
    assert entry.data["host"]["workers"] == 1
    assert entry.data["lifecycle"]["auto_start"] is True
    assert (entry.path, entry.line, entry.col) == ("f.yaml", 4, 5)
    assert entry.field_pos["kind"] == (5, 5)


# -- applications: discovery, duplicates, references ---------------------------------------

def test_minimal_app_loads() -> None:
    app = load_app(str(MINIMAL))
    assert app.app_dir == os.path.realpath(MINIMAL)
    assert list(app.entries) == ["app:processes", "app.workers:echo"]
    assert app.files == [str(MINIMAL / "config" / "_index.yaml"),
                         str(MINIMAL / "workers" / "_index.yaml")]
    assert app.warnings == []
    echo = app.entries["app.workers:echo"]
    assert echo.data["method"] == "main"
    assert source_file(echo) == str(MINIMAL / "workers" / "echo.py")
    assert app.entries["app:processes"].data["host"]["workers"] == 2


def test_load_app_returns_warnings_for_unknown_fields(tmp_path: Path) -> None:
    f = _write(tmp_path, "a.yaml", HOST + "    lifecycle: {autostart: true}\n")
    app = load_app(str(tmp_path))
    assert app.warnings == [f"{f}:5:17: entry app:processes: field 'lifecycle.autostart': "
                            "unknown field, ignored"]
    assert app.entries["app:processes"].data["lifecycle"]["auto_start"] is True


def test_source_file_of_an_entry_rebuilt_from_plain_data() -> None:
    echo = load_app(str(MINIMAL)).entries["app.workers:echo"]
    again = Entry.from_plain(echo.to_plain())
    assert source_file(again) == str(MINIMAL / "workers" / "echo.py")


def test_duplicate_entry_id_across_files_names_both_locations(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", HOST)
    b = _write(tmp_path, "b.yaml", "# another file\n" + HOST.lstrip("\n"))
    assert _issues(tmp_path) == [f"{b}:4:5: entry app:processes: duplicate entry id, "
                                 f"first defined at {a}:3:5"]


def test_errors_in_several_files_are_reported_together(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", "namespace: app\nentries:\n  - {name: x, kind: bad}\n")
    b = _write(tmp_path, "b.yaml", "namespace: app\nentries:\n  - {name: y}\n")
    issues = _issues(tmp_path)
    assert [i.split(":")[0] for i in issues] == [str(a), str(b)]


def test_relative_references_are_resolved_in_data(tmp_path: Path) -> None:
    _write(tmp_path, "config/_index.yaml", HOST)
    _write(tmp_path, "workers/_index.yaml", """
        namespace: app.workers
        entries:
          - name: handler
            kind: process.lua
            source: "return {}"
            method: main
          - name: svc
            kind: process.service
            process: handler
            host: app:processes
            lifecycle:
              depends_on: [app:processes]
        """)
    svc = load_app(str(tmp_path)).entries["app.workers:svc"]
    assert svc.data["process"] == "app.workers:handler"
    assert svc.data["host"] == "app:processes"
    assert svc.data["lifecycle"]["depends_on"] == ["app:processes"]


def test_unresolved_reference_is_reported_at_its_line(tmp_path: Path) -> None:
    f = _write(tmp_path, "a.yaml", _host_plus("""
          - name: svc
            kind: process.service
            process: handlr
            host: processes
        """))
    assert _issues(tmp_path) == [
        f"{f}:7:5: entry app:svc: field 'process': unknown entry 'app:handlr'"]


def test_reference_to_the_wrong_kind_is_reported(tmp_path: Path) -> None:
    f = _write(tmp_path, "a.yaml", _host_plus("""
          - name: svc
            kind: process.service
            process: processes
            host: processes
        """))
    (issue,) = _issues(tmp_path)
    assert issue.startswith(f"{f}:7:5: entry app:svc: field 'process': 'app:processes' is a "
                            "process.host, expected process.lua or process.py")


def test_dependency_cycle_is_detected(tmp_path: Path) -> None:
    f = _write(tmp_path, "a.yaml", _host_plus("""
          - {name: w, kind: process.lua, source: "return 1", method: main}
          - name: a
            kind: process.service
            process: w
            host: processes
            lifecycle: {depends_on: [b]}
          - name: b
            kind: process.service
            process: w
            host: processes
            lifecycle:
              depends_on:
                - processes
                - a
        """))
    assert _issues(tmp_path) == [f"{f}:10:30: entry app:a: field 'lifecycle.depends_on[0]': "
                                 "dependency cycle: app:a -> app:b -> app:a"]


def test_supervision_cycle_and_child_with_two_supervisors_are_errors(tmp_path: Path) -> None:
    f = _write(tmp_path, "a.yaml", _host_plus("""
          - {name: s1, kind: supervisor, children: [s2, processes]}
          - {name: s2, kind: supervisor, children: [s1]}
          - {name: s3, kind: supervisor, children: [processes]}
        """))
    assert _issues(tmp_path) == [
        f"{f}:7:45: entry app:s3: field 'children[0].id': 'app:processes' is already a child of "
        "supervisor 'app:s1'",
        f"{f}:5:45: entry app:s1: field 'children[0].id': supervision cycle: "
        "app:s1 -> app:s2 -> app:s1"]


def test_references_are_not_checked_when_a_file_failed(tmp_path: Path) -> None:
    f = _write(tmp_path, "a.yaml", "namespace: app\nentries: [\n")
    _write(tmp_path, "b.yaml", "namespace: app\nentries:\n  - {name: s, kind: supervisor, "
                               "children: [missing]}\n")
    issues = _issues(tmp_path)
    assert len(issues) == 1 and issues[0].startswith(f"{f}:")


def test_validate_references_works_on_entries_without_files() -> None:
    sup = Entry.from_plain({"id": "app:s", "kind": "supervisor",
                            "data": {"children": [{"id": "app:gone", "restart": "permanent"}]}})
    assert [str(i) for i in validate_references({sup.id: sup})] == [
        "<registry>:0:0: entry app:s: field 'children[0].id': unknown entry 'app:gone'"]


def test_entry_plain_form_round_trips_and_is_json() -> None:
    (entry,) = load_entries_from_text(HOST, "f.yaml")
    plain = entry.to_plain()
    assert set(plain) == {"id", "kind", "meta", "data"}
    json.dumps(plain)
    again = Entry.from_plain(json.loads(json.dumps(plain)))
    assert (again.id, again.namespace, again.name, again.kind, again.data) == (
        entry.id, "app", "processes", "process.host", entry.data)
    assert again.path == "" and again.field_pos == {}


def test_from_plain_rejects_an_id_without_namespace() -> None:
    with pytest.raises(ValueError, match="invalid entry id"):
        Entry.from_plain({"id": "noname", "kind": "registry.entry"})


def test_source_file_is_none_for_inline_source() -> None:
    (entry,) = load_entries_from_text("namespace: app\nentries:\n  - {name: f, kind: "
                                      "function.lua, source: 'return 1', method: main}\n")
    assert source_file(entry) is None


def test_missing_source_file_is_reported(tmp_path: Path) -> None:
    f = _write(tmp_path, "a.yaml", """
        namespace: app
        entries:
          - name: w
            kind: process.py
            source: file://w.py
        """)
    assert _issues(tmp_path) == [f"{f}:5:5: entry app:w: field 'source': file not found: "
                                 f"{tmp_path / 'w.py'} (from file://w.py)"]


def test_rule_1_wippy_lock_loads_its_src_folders(tmp_path: Path) -> None:
    _write(tmp_path, "wippy.lock", "directories:\n  modules: .wippy\n  src: [./src, lib]\n")
    a = _write(tmp_path, "src/_index.yaml", HOST)
    b = _write(tmp_path, "lib/more.yml", "namespace: lib\nentries: []\n")
    _write(tmp_path, "config/_index.yaml", HOST)  # ignored: the lock decides
    _write(tmp_path, ".wippy/vendor/_index.yaml", HOST)
    assert find_config_files(str(tmp_path)) == [str(a), str(b)]


def test_rule_1_src_defaults_to_src_and_may_be_a_string(tmp_path: Path) -> None:
    _write(tmp_path, "wippy.lock", "options: {}\n")
    a = _write(tmp_path, "src/_index.yaml", HOST)
    assert find_config_files(str(tmp_path)) == [str(a)]


def test_rule_1_hub_modules_are_reported_as_unsupported(tmp_path: Path) -> None:
    lock = _write(tmp_path, "wippy.lock", """
        directories:
          src: ./src
        modules:
          - name: wippy/agent
            version: 0.4.11
        """)
    _write(tmp_path, "src/_index.yaml", HOST)
    with pytest.raises(ConfigError) as info:
        find_config_files(str(tmp_path))
    (issue,) = info.value.issues
    assert str(issue).startswith(f"{lock}:3:1: unsupported: hub modules (wippy/agent) "
                                 "are not supported")
    with pytest.raises(ConfigError, match="hub modules"):
        load_app(str(tmp_path))


def test_rule_1_missing_src_folder_is_an_error(tmp_path: Path) -> None:
    lock = _write(tmp_path, "wippy.lock", "directories:\n  src: nowhere\n")
    with pytest.raises(ConfigError) as info:
        find_config_files(str(tmp_path))
    assert [str(i) for i in info.value.issues] == [
        f"{lock}:2:3: field 'directories.src': folder 'nowhere' does not exist"]


def test_rule_2_loads_only_config_workers_supervisors_in_that_order(tmp_path: Path) -> None:
    s = _write(tmp_path, "supervisors/_index.yaml", "namespace: sup\nentries: []\n")
    c = _write(tmp_path, "config/_index.yaml", HOST)
    _write(tmp_path, "other/_index.yaml", "namespace: other\nentries: []\n")
    _write(tmp_path, "top.yaml", "namespace: top\nentries: []\n")
    assert find_config_files(str(tmp_path)) == [str(c), str(s)]


def test_rule_3_loads_every_registry_yaml_and_skips_the_rest(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", HOST)
    b = _write(tmp_path, "deep/er/b.yml", "namespace: b\nentries: []\n")
    _write(tmp_path, "deep/not_registry.yaml", "just: data\n")
    _write(tmp_path, "broken_other.yaml", "x: [\n")  # not ours: not a registry file
    for skipped in (".git", ".wippy", "tests", "benchmarks", "__pycache__", "node_modules",
                    "venv"):
        _write(tmp_path, f"{skipped}/_index.yaml", HOST)
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
    assert find_config_files(str(tmp_path)) == [str(a), str(b)]


def test_broken_file_that_looks_like_a_registry_file_is_reported(tmp_path: Path) -> None:
    f = _write(tmp_path, "x.yaml", "namespace: app\nentries: [\n")
    assert find_config_files(str(tmp_path)) == [str(f)]
    (issue,) = _issues(tmp_path)
    assert issue.startswith(f"{f}:")


def test_index_file_without_namespace_is_reported_not_skipped(tmp_path: Path) -> None:
    f = _write(tmp_path, "_index.yaml", "entries: []\n")
    assert _issues(tmp_path) == [f"{f}:1:1: field 'namespace': required field missing"]


def test_app_without_registry_files_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, "notes.yaml", "a: 1\n")
    (issue,) = _issues(tmp_path)
    assert "no registry files found" in issue


def test_missing_app_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="application directory not found"):
        load_app(str(tmp_path / "nope"))


def test_a_byte_that_is_not_utf8_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "config" / "_index.yaml"
    path.parent.mkdir()
    path.write_bytes(b"namespace: app\nentries:\n  - name: processes\n    kind: process.host\n"
                     b"    meta: {team: \"caf\xe9\"}\n")
    assert _issues(tmp_path) == [f"{path}:5:22: byte 0xe9 is not valid UTF-8 (YAML files must be UTF-8)"]


def test_a_control_character_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "config" / "_index.yaml"
    path.parent.mkdir()
    path.write_bytes("namespace: app\nentries:\n  - name: processes\n    kind: process.host\n"
                     "    meta: {team: \"é\x07\"}\n".encode())
    [issue] = _issues(tmp_path)
    assert issue.startswith(f"{path}:5:20: character #x0007 is not allowed in YAML")


def test_an_entry_nested_too_deeply_is_named_with_its_field_and_line(tmp_path: Path) -> None:
    deep = "[" * 150 + "1" + "]" * 150
    _write(tmp_path, "config/_index.yaml", HOST + f"  - name: deep\n    kind: registry.entry\n"
                                                   f"    v: {deep}\n")
    [issue] = _issues(tmp_path)
    assert issue.startswith(f"{tmp_path}/config/_index.yaml:7:108: entry app:deep: field 'v[0][0]")
    assert issue.endswith("...': nested deeper than 100 levels")


def test_a_document_nested_deeper_than_the_parser_goes_is_located_not_raised(tmp_path: Path) -> None:
    deep = "[" * 400 + "1" + "]" * 400
    _write(tmp_path, "config/_index.yaml", HOST + f"  - name: deep\n    kind: registry.entry\n"
                                                   f"    v: {deep}\n")
    [issue] = _issues(tmp_path)
    assert issue.startswith(f"{tmp_path}/config/_index.yaml:7:")
    assert issue.endswith("nested deeper than 100 levels")
