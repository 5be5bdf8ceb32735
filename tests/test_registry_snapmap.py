"""The registry's snapshot map: the same entries, in the same order, as a plain dict after the
same changes; earlier versions never change."""
from __future__ import annotations

import random

import pytest

from wippy.registry.diff import patch
from wippy.registry.snapmap import SnapMap, advance, flatten_at


def _changes(rng: random.Random, live: list[str], serial: list[int]) -> dict[str, list]:
    created, updated, deleted = [], [], []
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if roll < 0.35 or not live:
            serial[0] += 1
            eid = f"ns:e{rng.randint(0, serial[0])}"     # sometimes an id deleted before
            if eid in live:
                updated.append({"id": eid, "v": serial[0]})
            else:
                created.append({"id": eid, "v": serial[0]})
                live.append(eid)
        elif roll < 0.75:
            eid = rng.choice(live)
            if eid not in [e["id"] for e in created]:
                updated.append({"id": eid, "v": serial[0]})
        else:
            eid = rng.choice(live)
            if eid not in [e["id"] for e in created + updated]:
                deleted.append(eid)
                live.remove(eid)
    return {"created": created, "updated": updated, "deleted": deleted}


@pytest.mark.parametrize("seed", range(6))
def test_a_snapmap_matches_a_dict_after_the_same_versions_in_content_and_order(seed: int) -> None:
    rng = random.Random(seed)
    base = {f"ns:e{i}": {"id": f"ns:e{i}", "v": 0} for i in range(40)}
    live, serial = list(base), [40]
    plain: dict = dict(base)
    snap = SnapMap(dict(base))
    kept = []
    for _ in range(400):
        ch = _changes(rng, live, serial)
        plain = patch(plain, ch)
        snap = advance(snap, ch)
        assert list(snap.items()) == list(plain.items())
        assert len(snap) == len(plain)
        kept.append((snap, list(plain.items())))
    for old, items in kept[::37]:           # every version handed out stayed as it was
        assert list(old.items()) == items
        for k, v in items:
            assert old[k] is v and k in old and old.get(k) is v
        assert old.get("ns:nothing") is None and "ns:nothing" not in old


def test_a_deleted_entry_is_gone_and_the_changed_part_is_merged_once_it_grows() -> None:
    snap = SnapMap({"a:x": {"id": "a:x"}, "a:y": {"id": "a:y"}})
    gone = advance(snap, {"deleted": ["a:x"]})
    with pytest.raises(KeyError):
        gone["a:x"]
    assert "a:x" in snap and len(gone) == 1 and list(gone) == ["a:y"]
    big = SnapMap({})
    for i in range(flatten_at(0) + 1):
        big = advance(big, {"created": [{"id": f"b:{i}"}]})
    assert len(big) == flatten_at(0) + 1 and list(big)[0] == "b:0"
    assert "0 changed" in repr(big)          # merged into its base


def test_a_snapmap_pickles_as_the_same_entries() -> None:
    import pickle

    snap = advance(SnapMap({"a:x": {"id": "a:x"}, "a:y": {"id": "a:y"}}), {"deleted": ["a:x"]})
    back = pickle.loads(pickle.dumps(snap))
    assert list(back.items()) == [("a:y", {"id": "a:y"})] and "a:x" not in back
