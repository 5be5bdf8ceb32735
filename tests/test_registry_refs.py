"""References between entries: the index of who references whom, and the check of a change
against it, which must find what a check of the whole registry finds."""
from __future__ import annotations

import random

from wippy.registry.refs import RefIndex, problems


def host(eid):
    return {"id": eid, "kind": "process.host", "meta": {}, "data": {}}


def proc(eid):
    return {"id": eid, "kind": "process.lua", "meta": {}, "data": {"source": "return {}",
                                                                    "method": "main"}}


def svc(eid, process, host_id, depends_on=()):
    return {"id": eid, "kind": "process.service", "meta": {},
            "data": {"process": process, "host": host_id,
                     "lifecycle": {"depends_on": list(depends_on)}}}


def sup(eid, children):
    return {"id": eid, "kind": "supervisor", "meta": {},
            "data": {"children": [{"id": c, "restart": "permanent"} for c in children]}}


def full_check(snapshot):
    return problems(RefIndex.of(snapshot), list(snapshot))


def test_the_index_knows_who_references_whom_and_follows_commits():
    index = RefIndex.of({"a:h": host("a:h"), "a:p": proc("a:p"), "a:s": svc("a:s", "a:p", "a:h")})
    assert set(index.referrers("a:p")) == {"a:s"} and set(index.referrers("a:h")) == {"a:s"}
    assert [r.field for r in index.refs("a:s")] == ["process", "host"]
    index.apply({"created": [svc("a:t", "a:p", "a:h")], "updated": [svc("a:s", "a:q", "a:h")],
                 "deleted": []})
    assert set(index.referrers("a:p")) == {"a:t"} and set(index.referrers("a:q")) == {"a:s"}
    index.apply({"deleted": ["a:s", "a:t"]})
    assert set(index.referrers("a:h")) == set() and index.kind("a:s") is None


def test_a_view_of_a_change_leaves_the_index_as_it_was():
    index = RefIndex.of({"a:h": host("a:h"), "a:s": svc("a:s", "a:p", "a:h")})
    view = index.with_changes({"a:h": None, "a:p": proc("a:p")})
    assert view.kind("a:h") is None and view.kind("a:p") == "process.lua"
    assert set(view.ids()) == {"a:s", "a:p"}
    assert index.kind("a:h") == "process.host" and index.kind("a:p") is None


def _valid_registry(rng: random.Random) -> dict:
    snap = {}
    for i in range(3):
        snap[f"a:h{i}"] = host(f"a:h{i}")
    for i in range(4):
        snap[f"a:p{i}"] = proc(f"a:p{i}")
    for i in range(8):          # each service depends only on earlier ones: no cycle
        deps = rng.sample([f"a:s{j}" for j in range(i)], k=min(i, rng.randint(0, 2)))
        snap[f"a:s{i}"] = svc(f"a:s{i}", f"a:p{rng.randrange(4)}", f"a:h{rng.randrange(3)}", deps)
    snap["a:sup0"] = sup("a:sup0", ["a:s0", "a:s1"])
    snap["a:sup1"] = sup("a:sup1", ["a:s2", "a:sup0"])
    assert full_check(snap) == []
    return snap


def _random_change(rng: random.Random, snap: dict) -> dict:
    """id -> new entry or None, touching one to three entries (often breaking a rule)."""
    ids = [f"a:{p}{i}" for p, n in (("h", 3), ("p", 4), ("s", 8)) for i in range(n)] + [
        "a:sup0", "a:sup1", "a:x", "a:y"]
    staged: dict = {}
    for _ in range(rng.randint(1, 3)):
        eid = rng.choice(ids)
        what = rng.randrange(4)
        if what == 0:
            staged[eid] = None
        elif what == 1:                      # a service pointing anywhere
            staged[eid] = svc(eid, rng.choice(ids), rng.choice(ids),
                              rng.sample(ids, k=rng.randint(0, 2)))
        elif what == 2:                      # an entry of another kind under the same id
            staged[eid] = rng.choice([host, proc])(eid)
        else:                                # a supervisor claiming children
            staged[eid] = sup(eid, rng.sample(ids, k=rng.randint(1, 3)))
    return {eid: e for eid, e in staged.items() if not (e is None and eid not in snap)}


def test_checking_a_change_finds_what_checking_the_whole_registry_finds():
    rng = random.Random(7)
    compared = 0
    for _ in range(400):
        snap = _valid_registry(rng)
        staged = _random_change(rng, snap)
        if not staged:
            continue
        after = {k: v for k, v in snap.items() if k not in staged or staged[k] is not None}
        after.update({k: v for k, v in staged.items() if v is not None})
        touched = list(staged)
        found = problems(RefIndex.of(snap).with_changes(staged), touched)
        whole = full_check(after)
        # the same verdict; and the same dangling and wrong-kind references, named the same way
        # (which of two supervisors is told off, or where a cycle is entered, may differ)
        assert bool(found) == bool(whole), (staged, found, whole)
        plain = {str(p) for p in found if "child of" not in p.message and "cycle" not in p.message}
        assert plain == {str(p) for p in whole
                         if "child of" not in p.message and "cycle" not in p.message}
        compared += 1
    assert compared > 300
