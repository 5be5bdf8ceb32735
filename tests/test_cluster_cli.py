"""The cluster's command-line surface where no database is needed: what is missing or wrong
is named, nothing starts."""
from __future__ import annotations

import os

import pytest

from conftest import run_wippy, write_app

pytestmark = pytest.mark.timeout(60)

BAD_DSN = "host=127.0.0.1 port=1 user=u password=hunter2 dbname=x connect_timeout=2"


def app(root: str) -> str:
    return write_app(root, {"config/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - {name: a, kind: process.host}
    """})


def test_cluster_status_needs_a_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIPPY_CLUSTER", raising=False)
    out = run_wippy(["cluster", "status"])
    assert out.returncode == 2 and "--cluster DSN or WIPPY_CLUSTER" in out.stderr


def test_cluster_status_of_an_unreachable_database_names_it_without_its_password() -> None:
    out = run_wippy(["cluster", "status", "--cluster", BAD_DSN, "--json"])
    assert out.returncode == 1 and "postgresql://u@127.0.0.1:1/x" in out.stderr
    assert "hunter2" not in out.stderr + out.stdout


COMMANDS = [["cluster", "status"], ["ps"], ["registry", "history", "--app"],
            ["workflow", "list", "--app"]]
IDS = ["cluster status", "ps", "registry history", "workflow list"]


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_a_bare_cluster_option_reads_wippy_cluster(command: list[str], app_dir: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    args = [*command, app(app_dir)] if command[-1] == "--app" else command
    monkeypatch.setenv("WIPPY_CLUSTER", BAD_DSN)
    out = run_wippy([*args, "--cluster"])
    assert out.returncode == 1 and "postgresql://u@127.0.0.1:1/x" in out.stderr, out.stderr
    assert "hunter2" not in out.stderr + out.stdout
    monkeypatch.delenv("WIPPY_CLUSTER")
    out = run_wippy([*args, "--cluster"])
    assert out.returncode == 2 and "--cluster DSN or WIPPY_CLUSTER" in out.stderr, out.stderr


def test_cluster_status_shows_where_each_node_listens() -> None:
    from wippy.cli.cluster import format_status
    rows = [{"node": "n1", "live": True, "address": "vm1", "listen": "tcp://10.0.0.11:7400",
             "pid": 42, "lease_age": 0.4, "lease_left": 4.6, "workflows": 3},
            {"node": "n2", "live": False, "address": "vm2", "listen": None,
             "pid": 43, "lease_age": 9.0, "lease_left": -4.0, "workflows": 1}]
    lines = format_status(rows, orphans=1, singletons={"app:svc": "n1"}).splitlines()
    assert lines[0].split() == ["NODE", "STATE", "MACHINE", "LISTENS", "ON", "PID", "RENEWED",
                                "LEASE", "LEFT", "WORKFLOWS"]
    assert lines[1].split() == ["n1", "live", "vm1", "10.0.0.11:7400", "42", "0.4", "s", "4.6",
                                "s", "3"]
    assert lines[2].split() == ["n2", "expired", "vm2", "-", "43", "9.0", "s", "0.0", "s", "1"]
    assert lines[3] == "2 node(s), 1 live; 4 unfinished workflow(s), 1 waiting to be taken over"
    assert lines[4] == "singletons: app:svc on n1"


def test_node_and_lease_options_need_a_cluster(app_dir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIPPY_CLUSTER", raising=False)
    out = run_wippy(["run", app(app_dir), "--node", "n1"])
    assert out.returncode == 2 and "need --cluster" in out.stderr
    out = run_wippy(["run", app_dir, "--cluster", BAD_DSN, "--lease-ttl", "0"])
    assert out.returncode == 2 and "must be positive" in out.stderr


@pytest.mark.integration
def test_a_node_that_cannot_reach_its_cluster_does_not_start(app_dir: str) -> None:
    out = run_wippy(["run", app(app_dir), "--cluster", BAD_DSN, "--node", "n1"])
    assert out.returncode == 1
    assert "cannot join the cluster at postgresql://u@127.0.0.1:1/x" in out.stderr
    assert "hunter2" not in out.stderr
    assert not os.path.exists(os.path.join(app_dir, ".wippy", "nodes", "n1", "data", "journal"))


def test_a_node_name_moves_the_dirs_only_for_a_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    from wippy.core.rundir import data_dir_for, run_dir_for
    monkeypatch.delenv("WIPPY_CLUSTER", raising=False)
    monkeypatch.delenv("WIPPY_DATA_DIR", raising=False)
    monkeypatch.delenv("WIPPY_NODE", raising=False)
    plain_run, plain_data = run_dir_for("/srv/app"), data_dir_for("/srv/app")
    monkeypatch.setenv("WIPPY_NODE", "web1")          # alone: the name in log lines only
    assert (run_dir_for("/srv/app"), data_dir_for("/srv/app")) == (plain_run, plain_data)
    monkeypatch.setenv("WIPPY_CLUSTER", "host=db")
    assert run_dir_for("/srv/app") == run_dir_for("/srv/app", "web1") != plain_run
    assert data_dir_for("/srv/app") == os.path.realpath("/srv/app") + "/.wippy/nodes/web1/data"
    assert run_dir_for("/srv/app", "web2") != run_dir_for("/srv/app", "web1")
