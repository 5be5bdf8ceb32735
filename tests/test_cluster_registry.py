"""Registry versions in the order of a cluster (S12), keeper by keeper: each keeper has its
own LMDB store and its own connection to one real PostgreSQL, as the nodes of a cluster do
(no OS processes here; tests/test_cluster_registry_nodes.py runs whole nodes). The decisions
(``follow``, ``wake_versions``) are also checked as pure logic."""
from __future__ import annotations

import logging
import os
from typing import Iterator

import pytest
from clusterkit import query
from conftest import write_app

from wippy.cluster.registry import AppPaths, Follow, follow, open_log, wake_versions
from wippy.errors import NodeError, RegistryError
from wippy.node.registry import RegistryKeeper, load_app
from wippy.registry.store import Store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

CONFIG = """
version: "1.0"
namespace: app
entries:
  - {name: main, kind: process.host}
  - {name: settings, kind: registry.entry, level: 1}
"""


class Feed:
    """What a keeper announces to its hosts: (version, ids, source)."""

    def __init__(self) -> None:
        self.versions: list[tuple[int, list[str], str]] = []

    def __call__(self, version: int, changes: dict, source: str) -> None:
        ids = [e["id"] for e in changes["created"] + changes["updated"]] + changes["deleted"]
        self.versions.append((version, ids, source))


class Keepers:
    """Keepers made in a test, closed after it."""

    def __init__(self, dsn: str, root: str) -> None:
        self.dsn, self.root = dsn, root
        self.made: list[RegistryKeeper] = []

    def boot(self, app: str, node: str, data: str | None = None,
             feed: Feed | None = None) -> RegistryKeeper:
        store = Store(os.path.join(data or os.path.join(self.root, "data-" + node), "registry"))
        versions = open_log(self.dsn, node)
        try:
            k = RegistryKeeper(store, load_app(app), feed or Feed(), lambda *a: None,
                               watch=False, cluster=versions)
        except BaseException:
            versions.close()
            store.close()
            raise
        self.made.append(k)
        return k

    def close(self) -> None:
        for k in self.made:
            k.close()
            k.store.close()


@pytest.fixture
def keepers(dsn: str, tmp_path: object) -> Iterator[Keepers]:
    ks = Keepers(dsn, str(tmp_path))
    try:
        yield ks
    finally:
        ks.close()


def app_at(root: str, config: str = CONFIG) -> str:
    return write_app(root, {"config/_index.yaml": config})


def entry(eid: str, level: int) -> dict:
    return {"id": eid, "kind": "registry.entry", "meta": {}, "data": {"level": level}}


def create(eid: str, level: int = 1) -> list[dict]:
    return [{"op": "create", "entry": entry(eid, level)}]


def history(k: RegistryKeeper) -> list[dict]:
    return list(k.store.history())


def cluster_history(dsn: str, app: str | None = None) -> list[tuple[int, dict]]:
    """The database's records (with ``app``'s paths: the database's are relative to it)."""
    import json
    paths = AppPaths(app) if app is not None else None
    return [(v, paths.record_in(json.loads(rec)) if paths else json.loads(rec)) for v, rec in
            query(dsn, "SELECT version, rec FROM wippy_registry ORDER BY version")]


def test_the_first_node_makes_v0_and_the_next_follows_it(keepers: Keepers, app_dir: str,
                                                         dsn: str) -> None:
    app = app_at(app_dir)
    a = keepers.boot(app, "a")
    b = keepers.boot(app, "b")
    assert a.version == b.version == 0
    assert history(a) == history(b) == [rec for _, rec in cluster_history(dsn, app)]
    assert history(a)[0]["author"]["node"] == "a"
    assert query(dsn, "SELECT node FROM wippy_registry") == [("a",)]


def test_a_change_on_one_node_reaches_the_other_with_its_number_and_record(
        keepers: Keepers, app_dir: str, dsn: str) -> None:
    app = app_at(app_dir)
    a = keepers.boot(app, "a")
    fb = Feed()
    b = keepers.boot(app, "b", feed=fb)
    assert a.apply(create("app:x", 7)) == 1
    # b learns of it from a notification (or its periodic check): both end in catch_up
    b.notified(["registry 1 a"])
    assert b.version == 1 and b.store.get("app:x")["data"] == {"level": 7}
    assert fb.versions == [(1, ["app:x"], "api")]          # announced like a local commit
    assert history(a) == history(b) == [rec for _, rec in cluster_history(dsn, app)]
    b.notified(["registry 1 a"])                           # nothing new: nothing happens
    assert fb.versions == [(1, ["app:x"], "api")]


def test_two_nodes_planning_the_same_number_end_contiguous_and_in_one_order(
        keepers: Keepers, app_dir: str, dsn: str) -> None:
    app = app_at(app_dir)
    a = keepers.boot(app, "a")
    b = keepers.boot(app, "b")
    assert a.apply(create("app:from_a")) == 1
    # b has not heard of v1: it plans v1, finds it taken, catches up and commits v2
    assert b.apply(create("app:from_b")) == 2
    assert b.store.get("app:from_a") is not None
    a.notified(["registry 2 b"])
    assert history(a) == history(b) == [rec for _, rec in cluster_history(dsn, app)]
    assert [v for v, _ in cluster_history(dsn)] == [0, 1, 2]


def test_a_change_that_no_longer_applies_after_the_race_says_why(
        keepers: Keepers, app_dir: str) -> None:
    app = app_at(app_dir)
    a = keepers.boot(app, "a")
    b = keepers.boot(app, "b")
    a.apply(create("app:x"))
    with pytest.raises(RegistryError, match=r"planned again on v1, which node a committed "
                                            r"first.*app:x"):
        b.apply(create("app:x"))
    assert b.version == 1


def test_a_node_booting_with_other_files_applies_the_difference_as_a_version(
        keepers: Keepers, tmp_path: object, caplog: pytest.LogCaptureFixture) -> None:
    app1 = app_at(os.path.join(str(tmp_path), "one"))
    app2 = app_at(os.path.join(str(tmp_path), "two"), CONFIG + "  - {name: extra, kind: "
                                                               "registry.entry, level: 2}\n")
    a = keepers.boot(app1, "a")
    with caplog.at_level(logging.WARNING, "wippy.registry"):
        b = keepers.boot(app2, "b")
    assert b.version == 1 and b.store.get("app:extra")["data"] == {"level": 2}
    rec = b.store.changeset(1)
    # the same files in another directory are the same entries: only the extra one is new
    assert rec["author"]["node"] == "b" and [e["id"] for e in rec["created"]] == ["app:extra"]
    assert rec["updated"] == [] and rec["deleted"] == []
    assert "files differ from the cluster's (as node a left them in v0)" in caplog.text
    assert "app:extra" in caplog.text
    a.notified(["registry 1 b"])
    # each node reads the entry's file in its own copy of the application
    assert a.store.get("app:extra")["path"] == os.path.join(app1, "config", "_index.yaml")
    assert b.store.get("app:extra")["path"] == os.path.join(app2, "config", "_index.yaml")
    assert [AppPaths(app1).record_out(r) for r in history(a)] == \
        [AppPaths(app2).record_out(r) for r in history(b)]
    # a reboot of b with the same files adds nothing: the baseline is b's files now
    b.close()
    b.store.close()
    keepers.made.remove(b)
    again = keepers.boot(app2, "b")
    assert again.version == 1


def test_a_node_that_was_down_catches_up_at_boot(keepers: Keepers, app_dir: str,
                                                 dsn: str) -> None:
    app = app_at(app_dir)
    a = keepers.boot(app, "a")
    b = keepers.boot(app, "b")
    b.close()
    b.store.close()
    keepers.made.remove(b)
    for i in range(3):
        a.apply(create(f"app:n{i}"))
    b = keepers.boot(app, "b")
    assert b.version == 3 and history(b) == [rec for _, rec in cluster_history(dsn, app)]


def test_a_local_store_from_outside_the_cluster_is_rebuilt_from_it(
        keepers: Keepers, app_dir: str, tmp_path: object,
        caplog: pytest.LogCaptureFixture) -> None:
    app = app_at(app_dir)
    a = keepers.boot(app, "a")
    a.apply(create("app:shared"))
    # a data directory used by a node without the cluster: its own v0, v1
    data = os.path.join(str(tmp_path), "standalone")
    store = Store(os.path.join(data, "registry"))
    solo = RegistryKeeper(store, load_app(app), Feed(), lambda *a: None, watch=False)
    solo.apply(create("app:only_here"))
    store.close()
    with caplog.at_level(logging.WARNING, "wippy.registry"):
        b = keepers.boot(app, "b", data=data)
    assert "is not the cluster's (its v1 is not the cluster's v1): rebuilt" in caplog.text
    assert b.store.get("app:only_here") is None and b.store.get("app:shared") is not None
    assert history(b) == history(a)


def test_a_store_ahead_of_an_empty_cluster_is_rebuilt_and_the_files_make_v0(
        keepers: Keepers, app_dir: str, tmp_path: object, dsn: str,
        caplog: pytest.LogCaptureFixture) -> None:
    app = app_at(app_dir)
    data = os.path.join(str(tmp_path), "old")
    store = Store(os.path.join(data, "registry"))
    solo = RegistryKeeper(store, load_app(app), Feed(), lambda *a: None, watch=False)
    solo.apply(create("app:old"))
    store.close()
    with caplog.at_level(logging.WARNING, "wippy.registry"):
        k = keepers.boot(app, "a", data=data)
    assert "the cluster has no registry yet" in caplog.text
    assert k.version == 0 and k.store.get("app:old") is None
    assert history(k) == [rec for _, rec in cluster_history(dsn, app)]


def test_a_rollback_is_a_new_version_of_the_cluster(keepers: Keepers, app_dir: str,
                                                    dsn: str) -> None:
    app = app_at(app_dir)
    a = keepers.boot(app, "a")
    b = keepers.boot(app, "b")
    a.apply(create("app:x"))
    b.notified(["registry 1 a"])
    assert b.rollback(0) == 2
    a.notified(["registry 2 b"])
    assert a.store.get("app:x") is None and history(a) == history(b)
    assert cluster_history(dsn)[-1][1]["source"] == "apply_version v0"


def test_an_unreachable_database_is_a_clear_error_without_the_password() -> None:
    from wippy.errors import ClusterError
    with pytest.raises(ClusterError, match="cannot join the cluster at "
                                           "postgresql://u@127.0.0.1:1/x") as info:
        open_log("host=127.0.0.1 port=1 user=u password=secret dbname=x connect_timeout=2", "a")
    assert "secret" not in str(info.value)
    with pytest.raises(ClusterError, match="invalid node name"):
        open_log("host=127.0.0.1 port=1 dbname=x", "a@b")


def test_follow_keeps_a_prefix_and_rebuilds_anything_else() -> None:
    r0, r1 = {"version": 0, "time": 1.0}, {"version": 1, "time": 2.0}
    assert follow(None, None, None, None)[0] is Follow.KEEP
    assert follow(None, None, 4, None)[0] is Follow.KEEP
    assert follow(0, r0, 3, r0)[0] is Follow.KEEP
    assert follow(0, r0, None, None) == (Follow.REBUILD, "it holds v0 but the cluster has no "
                                                         "registry yet")
    assert follow(2, r1, 1, None)[0] is Follow.REBUILD
    assert follow(1, r1, 1, {"version": 1, "time": 3.0})[0] is Follow.REBUILD


def test_wake_versions_reads_the_newest_announced_by_other_nodes() -> None:
    assert wake_versions(["ended", "registry 3 a", "registry 5 b", "inbox n1"], "me") == 5
    assert wake_versions(["registry 7 me"], "me") is None
    assert wake_versions(["registry x a", "registry"], "me") is None


def test_files_that_remove_what_another_nodes_entry_needs_are_refused_at_boot(
        keepers: Keepers, tmp_path: object, dsn: str) -> None:
    worker = "local function main() return 1 end\nreturn {main = main}\n"
    full = CONFIG + '  - {name: worker, kind: process.lua, source: "file://w.lua", method: main}\n'
    one = write_app(os.path.join(str(tmp_path), "one"), {"config/_index.yaml": full,
                                                          "config/w.lua": worker})
    a = keepers.boot(one, "a")
    a.apply([{"op": "create", "entry": {"id": "app:svc", "kind": "process.service", "meta": {},
                                         "data": {"process": "app:worker", "host": "app:main"}}}])
    two = app_at(os.path.join(str(tmp_path), "two"))          # no app:worker
    with pytest.raises(NodeError) as info:
        keepers.boot(two, "b")
    assert "entry app:svc: field 'process': unknown entry 'app:worker'" in str(info.value)
    assert [v for v, _ in cluster_history(dsn)] == [0, 1]      # nothing committed


REG_GOLDEN = os.path.join(os.path.dirname(__file__), "data", "golden", "cluster_registry_v1.json")


def test_the_cluster_registry_layout_is_stable(dsn: str) -> None:
    """What a publish writes (the version row, the files' baseline, the notification), pinned
    against a golden file (update it only on purpose: old clusters must keep working)."""
    import json

    from wippy.registry.store import history_record
    versions = open_log(dsn, "n1")
    try:
        files = {"app:x": entry("app:x", 1)}
        rec0 = history_record(0, {"created": [entry("app:x", 1)], "updated": [], "deleted": []},
                              "files", {"app:x": None}, {"files": ["a.yaml"], "node": "n1"}, 1.5)
        assert versions.publish(rec0, files)
        assert not versions.publish(rec0, files)                  # the number is taken
        rec2 = history_record(2, {"created": [], "updated": [], "deleted": ["app:x"]}, "api",
                              {"app:x": entry("app:x", 1)}, {"via": "api", "node": "n1"}, 2.5)
        assert not versions.publish(rec2)                         # it would leave a gap
        head = versions.head()
        assert (head.version, head.files, head.files_version, head.files_node) == (0, files, 0,
                                                                                    "n1")
        found = {"wippy_registry": [list(r) for r in query(
                     dsn, "SELECT version, rec, node FROM wippy_registry ORDER BY version")],
                 "wippy_cluster_meta": [list(r) for r in query(
                     dsn, "SELECT key, value FROM wippy_cluster_meta WHERE key LIKE 'registry%'")]}
    finally:
        versions.close()
    if os.environ.get("WIPPY_WRITE_GOLDEN"):
        with open(REG_GOLDEN, "w") as fh:
            json.dump(found, fh, indent=1, sort_keys=True)
    with open(REG_GOLDEN) as fh:
        assert json.loads(json.dumps(found)) == json.load(fh)


def test_without_the_database_a_change_fails_and_a_file_edit_waits_for_it(
        keepers: Keepers, app_dir: str, dsn: str) -> None:
    from clusterkit import Proxy

    from wippy.errors import StorageError
    app = app_at(app_dir)
    proxy = Proxy(dsn)
    try:
        keepers.dsn = proxy.dsn
        fa = Feed()
        a = keepers.boot(app, "a", feed=fa)
        proxy.cut()
        with pytest.raises(StorageError, match="postgresql://"):
            a.apply(create("app:x"))
        assert a.version == 0 and a.store.version() == 0        # nothing committed here
        write_app(app_dir, {"config/_index.yaml": CONFIG.replace("level: 1", "level: 4")})
        assert a.reload() is None and a.last_reload_error is not None
        assert a.store.get("app:settings")["data"] == {"level": 1}
        a._check()                      # the periodic check: still out of reach
        assert a.version == 0
        proxy.restore()
        a._check()                      # back: the refused edit is applied by itself
        assert a.version == 1 and a.store.get("app:settings")["data"] == {"level": 4}
        assert fa.versions == [(1, ["app:settings"], "files")]
        assert [v for v, _ in cluster_history(dsn)] == [0, 1]
    finally:
        proxy.close()


def test_a_node_far_behind_fetches_in_batches(keepers: Keepers, app_dir: str, dsn: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("wippy.node.regfollow.BATCH", 2)
    app = app_at(app_dir)
    a = keepers.boot(app, "a")
    for i in range(5):
        a.apply(create(f"app:early{i}"))
    fb = Feed()
    b = keepers.boot(app, "b", feed=fb)          # 5 versions behind: 3 batches at boot
    assert b.version == 5 and fb.versions == []  # at boot the hosts read the store
    for i in range(5):
        a.apply(create(f"app:late{i}"))
    b.notified(["registry 10 a"])                # 5 more, announced one by one
    assert b.version == 10 and [v for v, _, _ in fb.versions] == [6, 7, 8, 9, 10]
    assert history(a) == history(b) == [rec for _, rec in cluster_history(dsn, app)]


def test_paths_in_the_database_are_relative_to_the_application() -> None:
    a, b = AppPaths("/srv/one"), AppPaths("/home/x/two")
    e = {"id": "app:x", "path": "/srv/one/config/_index.yaml", "base_dir": "/srv/one/config",
         "data": {"source": "file:///srv/one/config/x.lua", "n": [1, "/srv/one/static"],
                  "other": "/srv/onething", "url": "file:///etc/x"}}
    rec = {"version": 1, "created": [e], "updated": [], "deleted": ["app:y"],
           "before": {"app:x": None, "app:y": {"id": "app:y", "path": "/srv/one/y.yaml",
                                               "base_dir": "/srv/one"}}}
    out = a.record_out(rec)
    assert out["created"][0]["path"] == "@app/config/_index.yaml"
    assert out["before"]["app:y"]["base_dir"] == "@app" and out["before"]["app:x"] is None
    assert out["created"][0]["data"] == {"source": "file://@app/config/x.lua",
                                         "n": [1, "@app/static"], "other": "/srv/onething",
                                         "url": "file:///etc/x"}
    mine = b.record_in(out)
    assert mine["created"][0]["base_dir"] == "/home/x/two/config"
    assert mine["created"][0]["data"]["source"] == "file:///home/x/two/config/x.lua"
    assert a.record_in(out) == rec and rec["created"][0] is e      # the input is not changed
    kept = {"id": "app:r", "path": "", "base_dir": "/elsewhere"}     # made at run time; outside
    assert a.files_in(a.files_out({"app:r": kept})) == {"app:r": kept}
    assert a.files_out({"app:r": kept})["app:r"] == kept
