"""The Lua registry API as Wippy's docs define it (``en/lua/core/registry.md``): ``parse_id``,
versions and their numbering after a rollback, ``history()`` objects, ``snapshot_at``,
``tostring`` of the objects, Wippy's unprefixed ``kind`` filter. A real node (the registry
lives in LMDB and changes go through the node)."""
from __future__ import annotations

import textwrap

import pytest

import wippy

pytestmark = [pytest.mark.timeout(60), pytest.mark.integration]


@pytest.fixture
def app(tmp_path):
    (tmp_path / "_index.yaml").write_text(textwrap.dedent("""\
        version: "1.0"
        namespace: app
        entries:
          - name: processes
            kind: process.host
            host: {workers: 1}
          - name: cfg
            kind: registry.entry
            meta: {type: config}
            data: {level: 1}
          - name: probe
            kind: function.lua
            source: file://probe.lua
            method: main
            modules: [registry]
        """))
    (tmp_path / "probe.lua").write_text(textwrap.dedent("""\
        local registry = require("registry")
        local function main(step)
          if step == "ids" then
            local a, b = registry.parse_id("app.lib:assert"), registry.parse_id("ns:name:with")
            local c = registry.parse_id("bare")
            return {a.ns, a.name, b.ns, b.name, c.ns, c.name}
          elseif step == "change" then
            local snap = registry.snapshot()
            local before = registry.current_version()
            local changes = snap:changes():create({id = "app:extra", kind = "registry.entry",
                                                   meta = {}, data = {n = 1}})
            local ops = changes:ops()
            local v = changes:apply()
            return {before:id(), v:id(), ops[1].kind, ops[1].entry.id, tostring(v),
                    v:string(), tostring(snap):find("Snapshot") ~= nil,
                    tostring(changes):find("Changes") ~= nil, v:previous():id()}
          elseif step == "rollback" then
            local cur = registry.current_version()
            local ok, err = registry.apply_version(cur:previous())
            local after = registry.current_version()
            local gone = registry.get("app:extra")
            local hist = registry.history()
            local ids = {}
            for _, v in ipairs(hist:versions()) do ids[#ids + 1] = v:id() end
            local got = hist:get_version(after:id())
            local snap = hist:snapshot_at(cur)
            return {ok, err == nil, after:id(), gone == nil, ids, got:id(),
                    snap:get("app:extra") ~= nil, tostring(hist):find("History") ~= nil}
          elseif step == "find" then
            local byk = registry.find({kind = "registry.entry"})
            local bydot = registry.find({[".kind"] = "registry.entry", ["meta.type"] = "config"})
            local _, e1 = registry.snapshot_at(-1)
            local _, e2 = registry.snapshot_at(999)
            return {#byk >= 1, #bydot, bydot[1].id, e1:kind(), e2:kind()}
          end
        end
        return {main = main}
        """))
    return str(tmp_path)


def test_parse_id_splits_at_the_first_colon(app):
    with wippy.Node(app) as node:
        assert node.call("app:probe", "ids", timeout=10) == [
            "app.lib", "assert", "ns", "name:with", "", "bare"]


def test_versions_changes_and_a_rollback_numbered_as_wippy_does(app):
    with wippy.Node(app) as node:
        v0, v1, kind, eid, shown, text, snap_ok, ch_ok, prev = node.call(
            "app:probe", "change", timeout=10)
        assert (v1, kind, eid, shown, text, snap_ok, ch_ok, prev) == (
            v0 + 1, "entry.create", "app:extra", f"Version(v{v1})", f"v{v1}", True, True, v0)
        ok, no_err, after, gone, ids, got, snap_has, hist_ok = node.call(
            "app:probe", "rollback", timeout=10)
        assert ok is True and no_err and gone
        assert after == v0                      # a rollback moves back to v0, as in Wippy
        assert ids == [v0, v1] and got == v0 and snap_has and hist_ok
        assert node.registry.current_version() == v1 + 1     # the store keeps the move as a change


def test_find_takes_wippys_unprefixed_kind_and_snapshot_at_checks_the_version(app):
    with wippy.Node(app) as node:
        assert node.call("app:probe", "find", timeout=10) == [True, 1, "app:cfg", "Invalid",
                                                               "NotFound"]
