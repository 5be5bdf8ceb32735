"""The registry change plan, alone: a pure decision from a snapshot and operations to the
changeset to commit or every problem (no LMDB, no sockets, no node)."""
from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from wippy.errors import ConfigIssue
from wippy.registry.changes import MAX_WORKERS, ChangeRejected, file_ops, plan
from wippy.registry.diff import patch
from wippy.registry.refs import RefIndex


def create(eid, kind="registry.entry", meta=None, **data):
    return {"op": "create", "entry": {"id": eid, "kind": kind, "meta": meta or {}, "data": data}}


def update(eid, kind="registry.entry", meta=None, **data):
    return {"op": "update", "entry": {"id": eid, "kind": kind, "meta": meta or {}, "data": data}}


def delete(eid):
    return {"op": "delete", "id": eid}


def service(eid, process="app:worker", host="app:main", depends_on=()):
    return {"process": process, "host": host, "lifecycle": {"depends_on": list(depends_on)}}


@pytest.fixture
def app(tmp_path: Path) -> str:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "helper.py").write_text("def double(x):\n    return 2 * x\n\n\n"
                                                 "def other(x):\n    return x\n")
    return str(tmp_path)


@pytest.fixture
def registry(app: str) -> dict:
    """A small valid registry, made by the planner itself from nothing."""
    ops = [create("app:main", "process.host"),
           create("app:worker", "process.lua", source="return {main = function() end}",
                  method="main"),
           create("app:svc", "process.service", **service("app:svc")),
           create("app:sup", "supervisor", children=["app:svc"]),
           create("app:settings", "registry.entry", meta={"team": "blue"}, level=1)]
    return patch({}, plan({}, ops, app))


def rejected(current, ops, app, **kw) -> list[str]:
    with pytest.raises(ChangeRejected) as info:
        plan(current, ops, app, **kw)
    return info.value.issues


# -- create, update, delete ------------------------------------------------------------------

def test_a_created_entry_is_validated_and_stored_with_its_defaults(registry, app):
    changes = plan(registry, [create("app:pool", "process.host", host={"workers": 2})], app)
    [entry] = changes["created"]
    assert changes["updated"] == [] and changes["deleted"] == []
    assert (entry["id"], entry["kind"]) == ("app:pool", "process.host")
    assert entry["data"]["host"]["workers"] == 2
    assert entry["data"]["lifecycle"]["auto_start"] is True          # filled in by the validator
    assert entry["base_dir"] == app and entry["path"] == ""


def test_an_update_replaces_the_entry_and_a_delete_removes_it(registry, app):
    changes = plan(registry, [update("app:settings", level=2), update("app:settings", level=3)],
                   app)
    assert [e["data"] for e in changes["updated"]] == [{"level": 3}]   # the last one wins
    changes = plan(registry, [delete("app:settings")], app)
    assert changes == {"created": [], "updated": [], "deleted": ["app:settings"]}


def test_create_of_an_existing_id_and_update_or_delete_of_a_missing_one_are_refused(registry, app):
    assert rejected(registry, [create("app:settings"), update("app:nope"), delete("app:gone")],
                    app) == ["entry app:settings: cannot create: it already exists",
                             "entry app:nope: cannot update: not found",
                             "entry app:gone: cannot delete: not found"]


def test_a_rejected_change_names_every_problem(registry, app):
    issues = rejected(registry, [
        create("app:a", "process.host", host={"workers": "many"}),
        create("app:b", "supervisor", strategy="yes_please", intensity=-1),
        {"op": "rename", "id": "app:settings"},
        {"op": "create", "entry": {"id": "no-namespace", "kind": "registry.entry"}},
    ], app)
    assert issues == [
        "entry app:a: field 'host.workers': must be an integer >= 1, got 'many'",
        "entry app:b: field 'strategy': must be one of one_for_one, one_for_all, rest_for_one, "
        "got 'yes_please'",
        "entry app:b: field 'intensity': must be an integer >= 0, got int -1",
        "unknown operation 'rename' (create, update, delete)",
        "entry 'no-namespace': field 'id': must be 'namespace:name'"]


def test_malformed_operations_are_refused_not_raised(registry, app):
    issues = rejected(registry, ["create", {"op": "update", "entry": ["app:x"]},
                                 {"op": "delete", "id": ["app:x"]}], app)
    assert len(issues) == 3


def test_an_empty_change_is_refused(registry, app):
    assert rejected(registry, [], app) == ["no changes to apply"]


def test_an_update_to_what_is_already_there_changes_nothing(registry, app):
    same = registry["app:settings"]
    changes = plan(registry, [update("app:settings", meta=same["meta"], **same["data"])], app)
    assert changes == {"created": [], "updated": [], "deleted": []}


def test_an_update_and_its_undo_in_one_change_change_nothing(registry, app):
    changes = plan(registry, [update("app:settings", meta={"team": "blue"}, level=5),
                              update("app:settings", meta={"team": "blue"}, level=1)], app)
    assert changes == {"created": [], "updated": [], "deleted": []}


def test_delete_then_create_of_one_id_in_one_change_is_a_replacement(registry, app):
    changes = plan(registry, [delete("app:settings"), create("app:settings", level=7)], app)
    assert [e["id"] for e in changes["updated"]] == ["app:settings"]
    assert changes["created"] == [] and changes["deleted"] == []
    assert changes["updated"][0]["data"] == {"level": 7}


def test_create_then_delete_of_a_new_id_in_one_change_changes_nothing(registry, app):
    changes = plan(registry, [create("app:tmp"), delete("app:tmp")], app)
    assert changes == {"created": [], "updated": [], "deleted": []}


def test_a_host_may_not_ask_for_more_than_max_workers(registry, app):
    [issue] = rejected(registry, [create("app:big", "process.host",
                                         host={"workers": MAX_WORKERS + 1})], app)
    assert issue.startswith("entry app:big: field 'host.workers'")


def test_the_plan_is_pure(registry, app):
    before = copy.deepcopy(registry)
    index = RefIndex.of(registry)
    plan(registry, [delete("app:settings"), create("app:new"),
                    update("app:worker", "process.lua", source="return {}", method="other")],
         app, refs=index)
    assert registry == before
    assert index.kind("app:new") is None and index.kind("app:settings") == "registry.entry"


# -- references -------------------------------------------------------------------------------

def test_a_reference_to_a_missing_entry_or_a_wrong_kind_is_refused(registry, app):
    issues = rejected(registry, [create("app:s2", "process.service",
                                        **service("app:s2", process="app:wroker")),
                                 create("app:s3", "process.service",
                                        **service("app:s3", process="app:settings"))], app)
    assert issues == [
        "entry app:s2: field 'process': unknown entry 'app:wroker'; did you mean 'app:worker'?",
        "entry app:s3: field 'process': 'app:settings' is a registry.entry, expected "
        "process.lua or process.py or workflow.lua or workflow.py"]


def test_deleting_a_referenced_entry_names_the_entry_left_dangling(registry, app):
    assert rejected(registry, [delete("app:worker")], app) == [
        "entry app:svc: field 'process': unknown entry 'app:worker'"]


def test_changing_the_kind_of_a_referenced_entry_names_who_points_at_it(registry, app):
    assert rejected(registry, [delete("app:main"), create("app:main", "registry.entry")], app) == [
        "entry app:svc: field 'host': 'app:main' is a registry.entry, expected process.host"]


def test_deleting_an_entry_together_with_everything_that_points_at_it_is_fine(registry, app):
    changes = plan(registry, [delete("app:sup"), delete("app:svc"), delete("app:worker")], app)
    assert changes["deleted"] == ["app:sup", "app:svc", "app:worker"]


def test_a_child_already_supervised_elsewhere_is_refused_naming_its_supervisor(registry, app):
    assert rejected(registry, [create("app:sup2", "supervisor", children=["app:svc"])], app) == [
        "entry app:sup2: field 'children[0].id': 'app:svc' is already a child of supervisor "
        "'app:sup'"]


def test_a_dependency_cycle_made_by_an_update_is_refused(registry, app):
    issues = rejected(registry, [
        create("app:svc2", "process.service", **service("app:svc2", depends_on=["app:svc"])),
        update("app:svc", "process.service", **service("app:svc", depends_on=["app:svc2"]))], app)
    assert issues == ["entry app:svc2: field 'lifecycle.depends_on[0]': dependency cycle: "
                      "app:svc2 -> app:svc -> app:svc2"]


def test_references_are_checked_only_where_the_change_touched(registry, app):
    # a reference broken before the change (data older than the rule) is not the change's fault
    broken = dict(registry)
    broken["app:old"] = {**registry["app:svc"], "id": "app:old",
                         "data": {**registry["app:svc"]["data"], "process": "app:gone"}}
    changes = plan(broken, [update("app:settings", level=2)], app)
    assert [e["id"] for e in changes["updated"]] == ["app:settings"]


class _Spy(RefIndex):
    """An index that records which entries the reference check reads."""

    def __init__(self) -> None:
        super().__init__()
        self.read: set[str] = set()

    def kind(self, eid):
        self.read.add(eid)
        return super().kind(eid)

    def refs(self, eid):
        self.read.add(eid)
        return super().refs(eid)

    def referrers(self, eid):
        self.read.add(eid)
        return super().referrers(eid)


def test_the_reference_check_reads_only_the_change_and_its_neighbours(registry, app):
    big = dict(registry)
    for i in range(500):                        # a large registry, mostly unrelated services
        eid = f"app:s{i}"
        big[eid] = {**registry["app:svc"], "id": eid}
    index = _Spy()
    for eid, e in big.items():
        index.put(eid, e["kind"], RefIndex.of({eid: e}).refs(eid))
    plan(big, [update("app:settings", level=2)], app, refs=index)
    assert index.read <= {"app:settings"}
    index.read.clear()
    plan(big, [create("app:s_new", "process.service", **service("app:s_new"))], app, refs=index)
    assert index.read <= {"app:s_new", "app:worker", "app:main"}
    index.read.clear()
    with pytest.raises(ChangeRejected) as info:
        plan(big, [delete("app:worker")], app, refs=index)
    assert len(info.value.issues) == 501             # every service left dangling is named
    assert index.read <= set(big) and "app:settings" not in index.read


# -- code: Python, confinement, the code check ----------------------------------------------

def test_a_process_may_not_create_or_alter_python_code(registry, app):
    src = "file://" + os.path.join(app, "code", "helper.py")
    fn = create("app:fn", "function.py", source=src, method="double")
    [issue] = rejected(registry, [fn], app, python=False)
    assert issue.startswith("entry app:fn: creating or changing Python code at run time needs "
                            "registry.apply.python")
    current = patch(registry, plan(registry, [fn], app))              # the operator may
    [issue] = rejected(current, [update("app:fn", "function.py", source=src, method="other")],
                       app, python=False)
    assert "registry.apply.python" in issue
    # meta is not code: a process may still label a Python entry
    changes = plan(current, [update("app:fn", "function.py", meta={"owner": "agent"}, source=src,
                                    method="double")], app, python=False)
    assert changes["updated"][0]["meta"] == {"owner": "agent"}


def test_inline_python_is_refused_even_from_the_operator(registry, app):
    [issue] = rejected(registry, [create("app:fn", "function.py", source="import os",
                                         method="system")], app)
    assert "inline Python source is refused" in issue


@pytest.mark.parametrize("where", ["absolute", "dotdot", "symlink"])
def test_a_source_outside_the_application_is_refused(registry, app, where):
    target = os.__file__
    if where == "absolute":
        source = "file://" + target
    elif where == "dotdot":
        source = "file://" + os.path.relpath(target, app)
    else:
        os.symlink(target, os.path.join(app, "code", "link.py"))
        source = "file://code/link.py"
    [issue] = rejected(registry, [create("app:fn", "function.py", source=source,
                                         method="system")], app)
    assert issue.startswith("entry app:fn: field 'source': source ") and \
        "outside the application directory" in issue


def test_lua_code_goes_through_the_code_check_it_is_given(registry, app):
    seen = []

    def check(entry):
        seen.append(entry.id)
        return [ConfigIssue(entry.id, 1, 7, "type expected near '='", entry=entry.id)]

    bad = create("app:fn", "function.lua", source="local x: = 1", method="main")
    assert rejected(registry, [bad, create("app:other")], app, check_code=check) == [
        "entry app:fn: field 'source': line 1:7: type expected near '='"]
    assert seen == ["app:fn"]                        # only Lua entries are checked
    assert plan(registry, [bad], app)["created"]     # no check given: the code is not looked at


def test_prechecked_entries_are_taken_as_they_are_but_their_references_are_checked(registry, app):
    loaded = {"id": "app:odd", "kind": "process.service", "meta": {}, "path": "/f.yaml",
              "base_dir": app, "data": {"process": "app:worker", "host": "app:main",
                                        "anything": "kept"}}
    changes = plan(registry, [{"op": "create", "entry": loaded}], app, prechecked=True)
    assert changes["created"] == [loaded]
    dangling = {**loaded, "data": {"process": "app:missing", "host": "app:main"}}
    assert rejected(registry, [{"op": "create", "entry": dangling}], app, prechecked=True) == [
        "entry app:odd: field 'process': unknown entry 'app:missing'"]


# -- the files ----------------------------------------------------------------------------------

def test_a_file_edit_is_carried_onto_the_live_registry_and_run_time_entries_stay():
    def e(eid, **data):
        return {"id": eid, "kind": "registry.entry", "meta": {}, "data": data}
    baseline = {"app:a": e("app:a", v=1), "app:b": e("app:b"), "app:c": e("app:c")}
    files = {"app:a": e("app:a", v=2), "app:d": e("app:d", v=1), "app:made": e("app:made")}
    live = {"app:a": e("app:a", v=1), "app:b": e("app:b"), "app:agent": e("app:agent"),
            "app:made": e("app:made", by="agent")}
    ops = file_ops(baseline, files, live)
    assert sorted((op["op"], op.get("id") or op["entry"]["id"]) for op in ops) == [
        ("create", "app:d"),          # new in the files
        ("delete", "app:b"),          # removed from the files (app:c was already gone)
        ("update", "app:a"),          # changed in the files
        ("update", "app:made")]       # new in the files, but made at run time meanwhile
    assert file_ops(files, files, live) == []


def test_an_entry_nested_too_deeply_is_refused_naming_it_and_its_field(registry, app):
    deep: object = 1
    for _ in range(150):
        deep = {"k": deep}
    issues = rejected(registry, [create("app:deep", blob=deep)], app)
    assert issues == ["entry app:deep: field 'blob.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k...': "
                      "nested deeper than 100 levels"]
    assert plan(registry, [create("app:ok", blob={"k": {"k": 1}})], app)["created"]
