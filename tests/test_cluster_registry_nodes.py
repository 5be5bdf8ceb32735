"""Registry versions across the nodes of a cluster (S12), with whole nodes on one real
PostgreSQL: a change applied on one node (through the API, from a Lua process, by a file
edit) reaches the others with the same number and contents; nodes applying at once end with
contiguous versions in one order; a node booting with other files applies the difference,
which every node then runs; a node that was down catches up at boot; a data directory used
without the cluster is rebuilt from the cluster's history."""
from __future__ import annotations

import os
import threading
from typing import Any, Iterator

import pytest

import wippy
from clusterkit import fresh_database, query
from conftest import wait_until, write_app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

N = int(os.environ.get("WIPPY_TEST_CLUSTER_N", "3"))

CONFIG = """
version: "1.0"
namespace: app
entries:
  - {name: procs, kind: process.host}
  - {name: settings, kind: registry.entry, level: 1}
  - {name: probe, kind: function.lua, source: file://probe.lua, method: main,
     modules: [registry]}
  - {name: idle, kind: process.py, source: file://idle.py, method: idle}
  - {name: watch, kind: process.py, source: file://idle.py, method: watch}
"""
PROBE = """
local registry = require("registry")
local function main(id, level)
  local v = registry.snapshot():changes():create({id = id, kind = "registry.entry", meta = {},
                                                  data = {level = level}}):apply()
  return v:id()
end
return {main = main}
"""
IDLE = """
import json

from wippy import events, process


async def idle():
    while True:
        await process.inbox().receive()


async def watch(out):
    sub = events.subscribe("registry")
    with open(out + ".ready", "w") as fh:
        fh.write("ready")
    ev = await sub.channel().receive()
    with open(out, "w") as fh:
        json.dump([ev["kind"], ev["path"], ev.get("data", {}).get("data")], fh)
"""
SERVICE = ("  - {name: svc, kind: process.service, process: app:idle, host: app:procs, "
           "lifecycle: {auto_start: true}}\n")


def make_app(root: str, extra: str = "") -> str:
    return write_app(root, {"config/_index.yaml": CONFIG + extra, "config/probe.lua": PROBE,
                            "config/idle.py": IDLE})


class Cluster:
    """Nodes started in a test, stopped after it."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.nodes: dict[str, wippy.Node] = {}

    def start(self, app: str, name: str, **kw: Any) -> wippy.Node:
        n = wippy.Node(app, cluster=self.dsn, node=name, lease_ttl=2, stop_timeout=5, **kw)
        n.start()
        self.nodes[name] = n
        return n

    def stop(self, name: str) -> None:
        self.nodes.pop(name).stop()

    def close(self) -> None:
        for n in self.nodes.values():
            n.stop()


@pytest.fixture
def cl(dsn: str) -> Iterator[Cluster]:
    c = Cluster(dsn)
    try:
        yield c
    finally:
        c.close()


def history(n: wippy.Node) -> list[dict]:
    return [n.registry.changeset(v["version"]) for v in n.registry.history()]


def cluster_versions(dsn: str) -> list[int]:
    return [r[0] for r in query(dsn, "SELECT version FROM wippy_registry ORDER BY version")]


def same_everywhere(nodes: list[wippy.Node], version: int) -> None:
    """Every node reaches ``version``, with the same history records."""
    wait_until(lambda: all(n.registry.version() == version for n in nodes), 30,
               what=f"every node at v{version}: {[n.registry.version() for n in nodes]}")
    first = history(nodes[0])
    for n in nodes[1:]:
        assert history(n) == first


def same_everywhere_paths(nodes: list[tuple[wippy.Node, str]], version: int) -> None:
    """Every node reaches ``version``, with the same history records once each node's
    application directory is taken out of their paths."""
    from wippy.cluster.registry import AppPaths
    wait_until(lambda: all(n.registry.version() == version for n, _ in nodes), 30,
               what=f"every node at v{version}")
    seen = [[AppPaths(app).record_out(r) for r in history(n)] for n, app in nodes]
    assert all(h == seen[0] for h in seen[1:])


def create(n: wippy.Node, eid: str, level: int) -> int:
    return int(n.registry.snapshot().changes().create(
        {"id": eid, "kind": "registry.entry", "meta": {}, "data": {"level": level}}).apply().id())


def test_a_change_on_one_node_reaches_every_node_with_its_number(cl: Cluster,
                                                                 app_dir: str) -> None:
    app = make_app(app_dir)
    nodes = [cl.start(app, f"n{i + 1}") for i in range(N)]
    same_everywhere(nodes, 0)
    # through the API on the first node
    assert create(nodes[0], "app:from_api", 7) == 1
    same_everywhere(nodes, 1)
    for n in nodes:
        assert n.registry.get("app:from_api")["data"] == {"level": 7}
    # from a Lua process on the second
    assert nodes[1].call("app:probe", "app:from_lua", 8, timeout=30) == 2
    same_everywhere(nodes, 2)
    for n in nodes:
        assert n.registry.get("app:from_lua")["data"] == {"level": 8}
    assert history(nodes[0])[2]["author"]["node"] == "n2"
    # a file edit: every node's watcher sees it, one of them commits it, once
    write_app(app_dir, {"config/_index.yaml": CONFIG.replace("level: 1", "level: 5")})
    same_everywhere(nodes, 3)
    for n in nodes:
        assert n.registry.get("app:settings")["data"] == {"level": 5}
    assert history(nodes[0])[3]["source"] == "files"
    # a service created on one node starts on every node
    write_app(app_dir, {"config/_index.yaml": CONFIG.replace("level: 1", "level: 5") + SERVICE})
    same_everywhere(nodes, 4)
    for n in nodes:
        wait_until(lambda: any(s["id"] == "app:svc" and s["state"] == "Running"
                               and s["restarts"] == 0 for s in n.ps()["services"]), 30,
                   what="the new service running")
    assert cluster_versions(cl.dsn) == [0, 1, 2, 3, 4]


def test_a_process_on_another_node_gets_the_registry_event(cl: Cluster, app_dir: str,
                                                           tmp_path: Any) -> None:
    import json
    app = make_app(app_dir)
    n1, n2 = cl.start(app, "n1"), cl.start(app, "n2")
    out = str(tmp_path / "event.json")
    n2.spawn("app:watch", "app:procs", out)
    wait_until(lambda: os.path.exists(out + ".ready"), 30, what="the subscriber")
    create(n1, "app:announced", 9)
    wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 30,
               what="the event on n2")
    with open(out) as fh:
        assert json.load(fh) == ["entry.create", "app:announced", {"level": 9}]


def test_nodes_applying_at_once_end_contiguous_in_one_order(cl: Cluster, app_dir: str) -> None:
    app = make_app(app_dir)
    nodes = [cl.start(app, f"n{i + 1}") for i in range(N)]
    same_everywhere(nodes, 0)
    per_node = 10
    errors: list[BaseException] = []
    got: list[int] = []

    def work(i: int, n: wippy.Node) -> None:
        try:
            with wippy.connect(n.ready_info["run_dir"]) as conn:
                for k in range(per_node):
                    got.append(int(conn.registry.snapshot().changes().create(
                        {"id": f"app:e{i}_{k}", "kind": "registry.entry", "meta": {},
                         "data": {"level": k}}).apply().id()))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, n)) for i, n in enumerate(nodes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    total = per_node * len(nodes)
    assert sorted(got) == list(range(1, total + 1))          # contiguous, none twice
    same_everywhere(nodes, total)
    assert cluster_versions(cl.dsn) == list(range(total + 1))
    for n in nodes:
        assert len([e for e in n.registry.find({".kind": "registry.entry"})]) == total + 1


def test_a_node_booting_with_other_files_applies_the_difference_everywhere(
        cl: Cluster, app_dir: str, tmp_path: Any) -> None:
    # the nodes of a cluster run the application from the same path (entries name their
    # files by it); on one machine two nodes with other files at that path boot in turn
    app = make_app(app_dir)
    n1 = cl.start(app, "n1")
    cl.stop("n1")
    write_app(app_dir, {"config/_index.yaml": CONFIG + SERVICE})
    out = str(tmp_path / "n2.err")
    with open(out, "w") as err:
        n2 = cl.start(app, "n2", stderr=err, log_level="INFO")
    assert n2.registry.version() == 1
    last = n2.registry.changeset(1)
    assert last["author"]["node"] == "n2" and last["source"] == "files"
    assert [e["id"] for e in last["created"]] == ["app:svc"]
    with open(out) as fh:
        text = fh.read()
    assert "files differ from the cluster's (as node n1 left them in v0)" in text, text
    assert "created app:svc" in text, text
    n1 = cl.start(app, "n1")          # its files are the cluster's now: nothing new
    nodes = [n1, n2]
    same_everywhere(nodes, 1)
    for n in nodes:
        wait_until(lambda: any(s["id"] == "app:svc" and s["state"] == "Running"
                               and s["restarts"] == 0 for s in n.ps()["services"]), 30,
                   what="the service running")
    assert cluster_versions(cl.dsn) == [0, 1]


def test_nodes_running_from_two_directories_share_the_difference_of_their_files(
        cl: Cluster, tmp_path: Any) -> None:
    one = make_app(str(tmp_path / "one"))
    two = make_app(str(tmp_path / "two"), SERVICE)
    n1 = cl.start(one, "n1")
    n2 = cl.start(two, "n2")            # its files add a service: the others' stay as they are
    assert n2.registry.version() == 1
    last = n2.registry.changeset(1)
    assert [e["id"] for e in last["created"]] == ["app:svc"] and last["updated"] == []
    same_everywhere_paths([(n1, one), (n2, two)], 1)
    for n in (n1, n2):                  # each runs it from its own copy of the application
        wait_until(lambda: any(s["id"] == "app:svc" and s["state"] == "Running"
                               and s["restarts"] == 0 for s in n.ps()["services"]), 30,
                   what="the service running")
    assert n1.registry.get("app:idle")["data"]["source"] == \
        "file://" + os.path.join(os.path.realpath(one), "config", "idle.py")
    assert n2.registry.get("app:idle")["data"]["source"] == \
        "file://" + os.path.join(os.path.realpath(two), "config", "idle.py")


def test_a_node_that_was_down_catches_up_at_boot(cl: Cluster, app_dir: str) -> None:
    app = make_app(app_dir)
    n1, n2 = cl.start(app, "n1"), cl.start(app, "n2")
    same_everywhere([n1, n2], 0)
    cl.stop("n2")
    create(n1, "app:while_down_1", 1)
    create(n1, "app:while_down_2", 2)
    n2 = cl.start(app, "n2")
    assert n2.registry.version() == 2         # before it reports ready
    same_everywhere([n1, n2], 2)
    assert n2.registry.get("app:while_down_2")["data"] == {"level": 2}
    create(n1, "app:after", 3)
    same_everywhere([n1, n2], 3)
    reg = n2.ps()["node"]["cluster"]["registry"]          # wippy ps --json shows it
    assert reg == {"version": 3, "fetched": 3, "unreachable": None}     # 2 at boot, then 1


def test_a_data_directory_used_without_the_cluster_is_rebuilt_from_it(
        cl: Cluster, app_dir: str, tmp_path: Any) -> None:
    app = make_app(app_dir)
    n1 = cl.start(app, "n1")
    create(n1, "app:in_cluster", 1)
    data = str(tmp_path / "solo-data")
    with wippy.Node(app, data_dir=data, stop_timeout=5) as solo:
        create(solo, "app:solo", 1)
        create(solo, "app:solo2", 1)
    out = str(tmp_path / "n2.err")
    with open(out, "w") as err:
        n2 = cl.start(app, "n2", data_dir=data, stderr=err)
    with open(out) as fh:
        text = fh.read()
    assert "is not the cluster's" in text and "rebuilt from the cluster's history" in text, text
    same_everywhere([n1, n2], 1)
    assert n2.registry.get("app:in_cluster") is not None
    with pytest.raises(wippy.EntryNotFound):
        n2.registry.get("app:solo")


def test_the_registry_command_reads_the_clusters_registry(cl: Cluster, app_dir: str,
                                                          tmp_path: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from conftest import run_wippy
    monkeypatch.delenv("WIPPY_CLUSTER", raising=False)
    app = make_app(app_dir)
    n1 = cl.start(app, "n1")
    create(n1, "app:made", 3)
    elsewhere = str(tmp_path / "elsewhere")        # no node, no data: only the database
    os.makedirs(elsewhere)
    out = run_wippy(["registry", "history", "--json", "--cluster", cl.dsn, "--app", elsewhere])
    assert out.returncode == 0, out.stderr
    hist = json.loads(out.stdout)
    assert [h["version"] for h in hist] == [0, 1] and hist[1]["created"] == ["app:made"]
    assert hist[1]["author"]["node"] == "n1"
    out = run_wippy(["registry", "history", "--cluster", cl.dsn, "--app", elsewhere])
    assert "by api on node n1" in out.stdout, out.stdout
    monkeypatch.setenv("WIPPY_CLUSTER", cl.dsn)
    out = run_wippy(["registry", "list", "--json", "--app", elsewhere])
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert listed["version"] == 1 and "app:made" in [e["id"] for e in listed["entries"]]
    out = run_wippy(["registry", "show", "app:made", "--app", elsewhere])
    assert json.loads(out.stdout)["data"] == {"level": 3}
    out = run_wippy(["registry", "diff", "0", "1", "--app", elsewhere])
    assert "+ app:made" in out.stdout
    empty = fresh_database(cl.dsn)
    out = run_wippy(["registry", "list", "--cluster", empty, "--app", elsewhere])
    assert out.returncode != 0 and "has no registry yet" in out.stderr, out.stderr


def test_nodes_booting_at_once_on_an_empty_database_share_one_v0(cl: Cluster,
                                                                  app_dir: str) -> None:
    app = make_app(app_dir)
    errors: list[BaseException] = []
    names = [f"n{i + 1}" for i in range(N)]
    nodes = {name: wippy.Node(app, cluster=cl.dsn, node=name, lease_ttl=2, stop_timeout=5)
             for name in names}
    cl.nodes.update(nodes)          # stopped after the test, started or not

    def boot(n: wippy.Node) -> None:
        try:
            n.start()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=boot, args=(n,)) for n in nodes.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    same_everywhere(list(nodes.values()), 0)
    assert cluster_versions(cl.dsn) == [0]
