"""Per-kind validators (wippy.kinds): pure functions over plain data, no YAML."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wippy.registry import kinds
from wippy.registry.kinds import Checked, validate


def _ok(kind: str, fields: dict[str, Any], ns: str = "app", base_dir: str = ".") -> Checked:
    checked = validate(kind, fields, ns, base_dir)
    assert checked.errors == [], checked.errors
    return checked


def _errors(kind: str, fields: dict[str, Any], base_dir: str = ".") -> dict[str, str]:
    return {p.field: p.message for p in validate(kind, fields, "app", base_dir).errors}


def test_kind_sets_cover_the_first_set_of_spec_s3() -> None:
    assert kinds.KINDS == {
        "process.host", "terminal.host", "process.lua", "process.py", "function.lua",
        "function.py", "library.lua", "workflow.lua", "workflow.py", "process.service",
        "supervisor", "registry.entry", "security.policy", "http.service", "http.router",
        "http.endpoint", "db.sql.sqlite", "db.sql.postgres", "store.memory", "store.sql",
        "queue.driver.memory", "queue.driver.sql", "queue.queue", "queue.consumer", "env.storage.os",
        "env.storage.memory", "env.storage.file", "env.storage.static", "env.storage.router",
        "env.variable", "fs.directory", "exec.native", "template.set", "template.jet"}
    assert kinds.HOST_KINDS == {"process.host", "terminal.host"}
    assert kinds.CODE_KINDS == {"process.lua", "function.lua", "library.lua", "workflow.lua",
                                "process.py", "function.py", "workflow.py"}


def test_unknown_kind_is_an_error_on_field_kind() -> None:
    assert _errors("sql.database", {}) == {"kind": "unknown kind 'sql.database'"}


def test_process_host_defaults_are_filled_in() -> None:
    data = _ok("process.host", {}).data
    assert data["host"] == {"workers": 1, "max_processes": None}
    assert data["lifecycle"] == {"auto_start": True, "start_timeout": 10.0,
                                 "stop_timeout": 10.0, "depends_on": []}
    assert "limits" not in data


@pytest.mark.parametrize("workers", [0, -1, "2", 1.5, True, None])
def test_host_workers_must_be_a_positive_integer(workers: object) -> None:
    errors = _errors("process.host", {"host": {"workers": workers}})
    assert list(errors) == ["host.workers"]
    assert errors["host.workers"].startswith("must be an integer >= 1")


def test_host_limits_parse_sizes_and_durations() -> None:
    data = _ok("process.host", {"limits": {"max_memory": "64MB", "max_cpu": "30s"}}).data
    assert data["limits"] == {"max_memory": 64 * 1024 * 1024, "max_cpu": 30.0}
    assert _ok("process.host", {"limits": {"max_memory": 1000}}).data["limits"] == {
        "max_memory": 1000}
    assert "limits.max_memory" in _errors("process.host", {"limits": {"max_memory": "lots"}})


def test_unknown_nested_field_is_a_warning_and_dropped() -> None:
    checked = _ok("process.host", {"lifecycle": {"autostart": False}})
    assert [(p.field, p.message, p.warning) for p in checked.problems] == [
        ("lifecycle.autostart", "unknown field, ignored", True)]
    assert checked.data["lifecycle"]["auto_start"] is True


def test_service_lifecycle_defaults_are_wippys() -> None:
    data = _ok("process.service", {"process": "handler", "host": "processes"}).data
    assert data["input"] == []
    assert data["lifecycle"] == {
        "auto_start": False, "start_timeout": 10.0, "stop_timeout": 10.0,
        "stable_threshold": 5.0, "depends_on": [],
        "restart": {"initial_delay": 1.0, "max_delay": 90.0, "backoff_factor": 2.0,
                    "jitter": 0.1, "max_attempts": 0}}


def test_service_durations_become_float_seconds() -> None:
    data = _ok("process.service", {"process": "p", "host": "h", "lifecycle": {
        "start_timeout": "1m", "stop_timeout": 3, "restart": {"initial_delay": "250ms"}}}).data
    lc = data["lifecycle"]
    assert (lc["start_timeout"], lc["stop_timeout"]) == (60.0, 3.0)
    assert lc["restart"]["initial_delay"] == 0.25
    assert lc["restart"]["max_delay"] == 90.0


def test_bad_duration_names_the_nested_field() -> None:
    errors = _errors("process.service", {"process": "p", "host": "h",
                                         "lifecycle": {"stop_timeout": "5 parsecs"}})
    assert errors["lifecycle.stop_timeout"].startswith("invalid duration '5 parsecs'")


def test_restart_max_delay_below_initial_delay_is_an_error() -> None:
    errors = _errors("process.service", {"process": "p", "host": "h", "lifecycle": {
        "restart": {"initial_delay": "10s", "max_delay": "1s"}}})
    assert errors == {"lifecycle.restart.max_delay": "must not be smaller than initial_delay"}


@pytest.mark.parametrize(("given", "args"), [
    (None, []), ([1, 2], [1, 2]), ("x", ["x"]), ({"a": 1}, [{"a": 1}]), (7, [7]), ([], []),
    ([[1, 2]], [[1, 2]])])
def test_service_input_list_is_the_argument_list_and_anything_else_one_argument(
        given: object, args: list[object]) -> None:
    fields: dict[str, Any] = {"process": "p", "host": "h"}
    if given is not None:
        fields["input"] = given
    assert _ok("process.service", fields).data["input"] == args


def test_relative_references_resolve_in_the_entry_namespace() -> None:
    checked = _ok("process.service", {
        "process": "handler", "host": "app:processes",
        "lifecycle": {"depends_on": ["db", "other.ns:cache"]}}, ns="app.workers")
    data = checked.data
    assert data["process"] == "app.workers:handler"
    assert data["host"] == "app:processes"
    assert data["lifecycle"]["depends_on"] == ["app.workers:db", "other.ns:cache"]
    assert [(r.field, r.target) for r in checked.refs] == [
        ("process", "app.workers:handler"), ("host", "app:processes"),
        ("lifecycle.depends_on[0]", "app.workers:db"),
        ("lifecycle.depends_on[1]", "other.ns:cache")]
    assert checked.refs[1].kinds == {"process.host"}


def test_wippy_requires_is_merged_into_depends_on() -> None:
    lc = _ok("process.service", {"process": "p", "host": "h", "lifecycle": {
        "depends_on": ["a"], "requires": ["b", "a"]}}).data["lifecycle"]
    assert lc["depends_on"] == ["app:a", "app:b"]
    assert "requires" not in lc


def test_service_requires_process_and_host() -> None:
    assert _errors("process.service", {}) == {"process": "required field missing",
                                              "host": "required field missing"}


def test_supervisor_defaults_are_erlangs() -> None:
    data = _ok("supervisor", {}).data
    assert (data["strategy"], data["intensity"], data["period"], data["children"]) == (
        "one_for_one", 1, 5.0, [])


def test_yaml_boolean_strategy_is_an_error_naming_the_field() -> None:
    errors = _errors("supervisor", {"strategy": True})
    assert list(errors) == ["strategy"]
    assert "must be one of one_for_one, one_for_all, rest_for_one" in errors["strategy"]
    assert "boolean true" in errors["strategy"]


def test_supervisor_children_are_normalized_to_id_and_restart() -> None:
    data = _ok("supervisor", {"children": ["svc", {"id": "x:host"},
                                           {"id": "sub", "restart": "temporary"}]}).data
    assert data["children"] == [
        {"id": "app:svc", "restart": "permanent"},
        {"id": "x:host", "restart": "permanent"},
        {"id": "app:sub", "restart": "temporary"}]


def test_supervisor_child_listed_twice_is_an_error() -> None:
    assert _errors("supervisor", {"children": ["a", "app:a"]}) == {
        "children[1]": "child 'app:a' is listed twice"}


def test_supervisor_child_restart_type_is_checked() -> None:
    errors = _errors("supervisor", {"children": [{"id": "a", "restart": "always"}]})
    assert list(errors) == ["children[0].restart"]


@pytest.mark.parametrize(("field", "value"), [("intensity", -1), ("intensity", "1"),
                                              ("period", 0), ("period", "soon")])
def test_supervisor_intensity_and_period_are_checked(field: str, value: object) -> None:
    assert list(_errors("supervisor", {field: value})) == [field]


def test_file_source_must_exist_and_becomes_absolute(tmp_path: Path) -> None:
    (tmp_path / "h.lua").write_text("return 1")
    data = _ok("process.lua", {"source": "file://h.lua", "method": "main"},
               base_dir=str(tmp_path)).data
    assert data["source"] == f"file://{tmp_path / 'h.lua'}"
    errors = _errors("process.lua", {"source": "file://missing.lua", "method": "main"},
                     base_dir=str(tmp_path))
    assert errors["source"].startswith(f"file not found: {tmp_path / 'missing.lua'}")


def test_inline_source_is_accepted_for_lua_and_python() -> None:
    assert _ok("function.lua", {"source": "return 1", "method": "f"}).data["source"] == "return 1"
    assert _ok("process.py", {"source": "async def main(): pass"}).data["method"] == "main"


def test_method_default_and_requirement_per_code_kind() -> None:
    assert _errors("process.lua", {"source": "x"}) == {"method": "required field missing"}
    assert _errors("function.py", {"source": "x"}) == {"method": "required field missing"}
    assert _ok("workflow.py", {"source": "x", "host": "h"}).data["method"] == "main"
    assert "method" not in _ok("library.lua", {"source": "x"}).data


def test_lua_entries_get_modules_and_imports_defaults() -> None:
    data = _ok("process.lua", {"source": "x", "method": "main"}).data
    assert (data["modules"], data["imports"]) == ([], {})


def test_lua_imports_resolve_to_library_references() -> None:
    checked = _ok("function.lua", {"source": "x", "method": "m", "imports": {"u": "lib"}})
    assert checked.data["imports"] == {"u": "app:lib"}
    assert [(r.field, r.target, r.kinds) for r in checked.refs] == [
        ("imports.u", "app:lib", frozenset({"library.lua"}))]


def test_modules_must_be_a_list_of_strings() -> None:
    errors = _errors("process.lua", {"source": "x", "method": "m", "modules": ["json", 3]})
    assert list(errors) == ["modules[1]"]


def test_workflows_need_a_host() -> None:
    assert _errors("workflow.lua", {"source": "x", "method": "m"}) == {
        "host": "required field missing"}


def test_security_policy_effect_is_allow_or_deny() -> None:
    policy = {"actions": "*", "resources": ["a", "b"], "effect": "allow", "conditions": []}
    data = _ok("security.policy", {"policy": policy}).data
    assert data["policy"] == {"actions": ["*"], "resources": ["a", "b"], "effect": "allow",
                              "conditions": []}
    assert list(_errors("security.policy", {"policy": {**policy, "effect": "maybe"}})) == [
        "policy.effect"]


def test_registry_entry_keeps_free_data_without_warnings() -> None:
    checked = _ok("registry.entry", {"settings": {"a": 1}, "limit": 5})
    assert checked.data == {"settings": {"a": 1}, "limit": 5}
    assert checked.problems == []


def test_every_kind_accepts_lifecycle() -> None:
    for kind in kinds.KINDS:
        checked = validate(kind, {"lifecycle": {"auto_start": True}}, "app")
        assert not any(p.field.startswith("lifecycle") for p in checked.problems), kind


def test_auto_start_must_be_a_boolean() -> None:
    assert list(_errors("process.host", {"lifecycle": {"auto_start": "yes"}})) == [
        "lifecycle.auto_start"]


def test_validating_clean_data_again_gives_the_same_data(tmp_path: Path) -> None:
    (tmp_path / "w.py").write_text("async def main(): pass")
    cases: list[tuple[str, dict[str, Any]]] = [
        ("process.host", {"host": {"workers": 3}, "limits": {"max_memory": "1GB"}}),
        ("process.service", {"process": "w", "host": "h", "input": {"k": 1},
                             "lifecycle": {"requires": ["h"], "restart": {"jitter": 0}}}),
        ("supervisor", {"children": ["a", {"id": "b", "restart": "transient"}]}),
        ("process.py", {"source": "file://w.py"}),
        ("security.policy", {"policy": {"actions": "*", "resources": "*", "effect": "deny"}}),
    ]
    for kind, fields in cases:
        once = _ok(kind, fields, base_dir=str(tmp_path)).data
        assert _ok(kind, once, base_dir=str(tmp_path)).data == once, kind


def test_references_lists_targets_of_clean_data() -> None:
    data = _ok("supervisor", {"children": ["a"], "lifecycle": {"depends_on": ["h"]}}).data
    refs = kinds.references("supervisor", data, "app")
    assert [(r.field, r.target) for r in refs] == [
        ("children[0].id", "app:a"), ("lifecycle.depends_on[0]", "app:h")]
