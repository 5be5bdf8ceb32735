"""Wippy's registry filter: root selectors (prefixed or not), meta keys and their operators."""
from __future__ import annotations

import logging

import pytest

from wippy.errors import RegistryError
from wippy.registry import Snapshot, match, query

E = {"id": "app.api:users", "kind": "http.endpoint", "meta": {"path": "/api/users", "tag": "v2"}}


def test_root_selectors_and_meta_keys_follow_wippy():
    assert match(E, {".kind": "http.endpoint", ".ns": "app.api", ".name": "users",
                     ".id": "app.api:users"})
    assert match(E, {"meta.tag": "v2", "~meta.path": r"^/api/\w+$", "*meta.path": "users",
                     "^meta.path": "/api", "$meta.path": "ers"})
    assert not match(E, {"^meta.path": "/web"})
    assert not match(E, {"meta.missing": "x"})
    assert not match(E, {".id": "app.api:other"})


def test_unprefixed_root_selectors_mean_the_prefixed_ones():
    assert match(E, {"kind": "http.endpoint", "ns": "app.api", "name": "users",
                     "id": "app.api:users"})
    assert not match(E, {"kind": "process.lua"})
    assert not match(E, {"ns": "app"})
    assert not match(E, {"name": "user"})
    assert not match(E, {"id": "app.api:user"})


def test_any_other_unprefixed_key_is_ignored_with_one_warning(monkeypatch, caplog):
    monkeypatch.setattr(query, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="wippy.registry"):
        assert match(E, {"tag": "nope", ".kind": "http.endpoint"})
        assert match(E, {"tag": "still nope"})
        assert not match(E, {"tag": "x", ".kind": "other"})
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "'tag' ignored" in warnings[0]


def test_a_malformed_prefixed_key_is_an_error():
    for key in (".color", "~name", "*kind"):
        with pytest.raises(RegistryError, match="unknown filter key"):
            match(E, {key: "x"})


def test_snapshot_find_takes_the_same_keys_and_returns_public_entries():
    stored = {**E, "data": {"x": 1}, "path": "/app/api.yaml", "base_dir": "/app"}
    other = {"id": "app:settings", "kind": "registry.entry", "meta": {}, "data": {}}
    snap = Snapshot(3, {E["id"]: stored, other["id"]: other}, lambda ops: None)
    assert snap.find({"kind": "http.endpoint"}) == [
        {"id": "app.api:users", "kind": "http.endpoint", "meta": E["meta"], "data": {"x": 1}}]
    assert [x["id"] for x in snap.find({"ns": "app"})] == ["app:settings"]
    assert [x["id"] for x in snap.namespace("app.api")] == ["app.api:users"]
