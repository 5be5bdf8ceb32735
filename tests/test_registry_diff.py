"""The registry diff: one comparison of two snapshots, seen as a changeset, operations, events."""
from __future__ import annotations

from wippy.registry.diff import build_delta, changed_ids, delta_ops, diff, is_empty, patch


def e(eid, **data):
    return {"id": eid, "kind": "registry.entry", "meta": {}, "data": data}


OLD = {"a:1": e("a:1", v=1), "a:2": e("a:2"), "a:3": e("a:3")}
NEW = {"a:1": e("a:1", v=2), "a:3": e("a:3"), "a:4": e("a:4")}


def test_diff_names_what_was_created_updated_and_deleted():
    assert diff(OLD, NEW) == {"created": [e("a:4")], "updated": [e("a:1", v=2)],
                              "deleted": ["a:2"]}
    assert is_empty(diff(NEW, NEW)) and not is_empty(diff(OLD, NEW))


def test_patch_undoes_diff_and_leaves_its_input_alone():
    before = dict(OLD)
    assert patch(OLD, diff(OLD, NEW)) == NEW
    assert OLD == before


def test_operations_carry_the_same_changes():
    ops = delta_ops(OLD, NEW)
    assert ops == [{"op": "create", "entry": e("a:4")}, {"op": "update", "entry": e("a:1", v=2)},
                   {"op": "delete", "id": "a:2"}]
    assert delta_ops(NEW, NEW) == []


def test_events_name_each_change_in_wippys_words():
    assert changed_ids(diff(OLD, NEW)) == [("entry.create", "a:4", e("a:4")),
                                           ("entry.update", "a:1", e("a:1", v=2)),
                                           ("entry.delete", "a:2", None)]
    assert all(type(kind) is str for kind, _, _ in changed_ids(diff(OLD, NEW)))  # cross processes


def test_build_delta_compares_public_forms_and_gives_a_deleted_entry_as_it_was():
    stored = {**e("a:1", v=1), "path": "/app/x.yaml", "base_dir": "/app"}
    assert build_delta([stored], [e("a:1", v=1)]) == []      # where it came from is not content
    assert build_delta(list(OLD.values()), list(NEW.values())) == [
        {"kind": "entry.create", "entry": e("a:4")},
        {"kind": "entry.update", "entry": e("a:1", v=2)},
        {"kind": "entry.delete", "entry": e("a:2")}]
