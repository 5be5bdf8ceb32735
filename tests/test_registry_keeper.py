"""The node's registry writer with a real LMDB store (no sockets, no OS processes): boot and hot
reload go through the same planner as ``apply``; entries made at run time survive file edits and
reboots (the file baseline)."""
from __future__ import annotations

import os

import pytest
from conftest import write_app

from wippy.errors import ConfigError, NodeError, RegistryError
from wippy.node.registry import RegistryKeeper, load_app
from wippy.registry import loader
from wippy.registry.store import Store

pytestmark = pytest.mark.timeout(60)

CONFIG = """
version: "1.0"
namespace: app
entries:
  - {name: main, kind: process.host}
  - {name: worker, kind: process.lua, source: "file://worker.lua", method: main}
  - {name: settings, kind: registry.entry, level: 1}
"""
WORKER = "local function main() return 1 end\nreturn {main = main}\n"


class Feed:
    """What the keeper announces (the node's ``on_change``)."""

    def __init__(self) -> None:
        self.versions: list[tuple[int, list[str], str]] = []

    def __call__(self, version: int, changes: dict, source: str) -> None:
        ids = [e["id"] for e in changes["created"] + changes["updated"]] + changes["deleted"]
        self.versions.append((version, ids, source))


@pytest.fixture
def app(app_dir: str) -> str:
    return write_app(app_dir, {"config/_index.yaml": CONFIG, "config/worker.lua": WORKER})


def boot(app: str, feed: Feed | None = None) -> RegistryKeeper:
    store = Store(os.path.join(app, ".wippy", "data", "registry"))
    try:
        return RegistryKeeper(store, load_app(app), feed or Feed(), lambda *a: None, watch=False)
    except BaseException:
        store.close()
        raise


def edit(app: str, old: str, new: str, rel: str = "config/_index.yaml") -> None:
    path = os.path.join(app, rel)
    with open(path) as fh:
        text = fh.read()
    assert old in text
    with open(path, "w") as fh:
        fh.write(text.replace(old, new))


def service(eid: str, process: str = "app:worker") -> list[dict]:
    return [{"op": "create", "entry": {"id": eid, "kind": "process.service", "meta": {},
                                        "data": {"process": process, "host": "app:main"}}}]


def test_the_first_boot_is_v0_and_an_unchanged_reboot_adds_no_version(app):
    feed = Feed()
    keeper = boot(app, feed)
    assert keeper.version == 0 and feed.versions == []        # nobody listens during boot
    assert set(keeper.store.entries()) == {"app:main", "app:worker", "app:settings"}
    assert keeper.store.file_baseline() == keeper.files
    assert keeper.store.changeset(0)["source"] == "files"
    keeper.store.close()
    keeper = boot(app)
    assert keeper.version == 0 and [h["version"] for h in keeper.store.history()] == [0]
    keeper.store.close()


def test_entries_made_at_run_time_survive_a_reboot_with_changed_files(app):
    keeper = boot(app)
    assert keeper.apply(service("app:made"), "process", python=False) == 1
    keeper.store.close()
    edit(app, "level: 1", "level: 2")
    edit(app, "return 1", "return 2", "config/worker.lua")
    keeper = boot(app)
    assert keeper.version == 2
    change = keeper.store.changeset(2)
    assert sorted(e["id"] for e in change["updated"]) == ["app:settings", "app:worker"]
    assert change["created"] == [] and change["deleted"] == []
    assert keeper.store.get("app:made")["data"]["process"] == "app:worker"
    assert keeper.store.get("app:settings")["data"]["level"] == 2
    keeper.store.close()


def test_a_reboot_is_refused_when_the_files_remove_what_a_run_time_entry_needs(app):
    keeper = boot(app)
    keeper.apply(service("app:made"))
    keeper.store.close()
    edit(app, '  - {name: worker, kind: process.lua, source: "file://worker.lua", method: main}\n',
         "")
    with pytest.raises(NodeError) as info:
        boot(app)
    assert "entry app:made: field 'process': unknown entry 'app:worker'" in str(info.value)
    store = Store(os.path.join(app, ".wippy", "data", "registry"))
    assert store.version() == 1 and store.get("app:worker") is not None      # nothing committed
    store.close()


def test_boot_checks_the_code_when_the_loader_did_not(app):
    write_app(app, {"config/worker.lua": "local x: = 1\nreturn {}\n"})
    with pytest.raises(ConfigError):                 # the node's loader checks the code itself
        load_app(app)
    loaded = loader.load_app(app)                    # a loader given no code check
    assert not loaded.code_checked
    store = Store(os.path.join(app, ".wippy", "data", "registry"))
    with pytest.raises(NodeError) as info:
        RegistryKeeper(store, loaded, Feed(), lambda *a: None, watch=False)
    store.close()
    assert f"{app}/config/worker.lua:1:10: entry app:worker: field 'source': type expected" \
        in str(info.value)


def test_data_from_before_baselines_were_kept_takes_the_registry_as_the_baseline(app):
    store = Store(os.path.join(app, ".wippy", "data", "registry"))
    files = {e.id: e.stored() for e in load_app(app).entries.values()}
    old = dict(files["app:settings"], data={"level": 0})
    store.commit({"created": [*files.values(), dict(old, id="app:gone")], "updated": []}, "files")
    store.commit({"updated": [old]}, "api")                           # no baseline recorded
    store.close()
    keeper = boot(app)
    assert keeper.version == 2                        # the files say it all, as one version
    assert keeper.store.changeset(2)["updated"] == [files["app:settings"]]
    assert keeper.store.changeset(2)["deleted"] == ["app:gone"]
    assert keeper.store.file_baseline() == files
    keeper.store.close()


def test_a_file_edit_is_one_version_announced_like_any_other(app):
    feed = Feed()
    keeper = boot(app, feed)
    edit(app, "level: 1", "level: 3")
    assert keeper.reload() == 1
    assert feed.versions == [(1, ["app:settings"], "files")]
    assert keeper.store.file_baseline()["app:settings"]["data"]["level"] == 3
    assert keeper.reload() is None                    # nothing new
    keeper.store.close()


def test_an_invalid_edit_is_refused_and_the_version_stays(app):
    feed = Feed()
    keeper = boot(app, feed)
    edit(app, "level: 1", "level: [1")
    assert keeper.reload() is None
    assert "config/_index.yaml" in (keeper.last_reload_error or "")
    keeper.apply(service("app:made"))
    edit(app, "level: [1", "level: 1")
    edit(app, '  - {name: worker, kind: process.lua, source: "file://worker.lua", method: main}\n',
         "")
    assert keeper.reload() is None                    # app:made still needs app:worker
    assert "entry app:made: field 'process': unknown entry 'app:worker'" in keeper.last_reload_error
    assert keeper.version == 1 and [v for v, _, _ in feed.versions] == [1]
    keeper.store.close()


def test_a_file_edit_that_the_registry_already_holds_moves_the_baseline_only(app):
    keeper = boot(app)
    keeper.apply([{"op": "delete", "id": "app:settings"}])     # deleted at run time first
    edit(app, "  - {name: settings, kind: registry.entry, level: 1}\n", "")
    assert keeper.reload() is None and keeper.version == 1    # nothing left to delete
    assert "app:settings" not in keeper.store.file_baseline()
    edit(app, "  - {name: main", "  - {name: settings, kind: registry.entry, level: 1}\n"
                                 "  - {name: main")
    assert keeper.reload() == 2                               # back in the files: created again
    assert keeper.store.get("app:settings")["data"] == {"level": 1}
    keeper.store.close()


def test_the_reference_index_follows_every_commit(app):
    keeper = boot(app)
    keeper.apply(service("app:s1"))
    with pytest.raises(RegistryError, match="entry app:s1: field 'process': unknown entry"):
        keeper.apply([{"op": "delete", "id": "app:worker"}])
    keeper.apply([{"op": "delete", "id": "app:s1"}])
    assert keeper.apply([{"op": "delete", "id": "app:worker"}]) == 3
    with pytest.raises(RegistryError, match="unknown entry 'app:worker'"):
        keeper.apply(service("app:s2"))
    assert keeper.rollback(1) == 4                     # app:s1 and app:worker come back
    with pytest.raises(RegistryError, match="entry app:s1: field 'process'"):
        keeper.apply([{"op": "delete", "id": "app:worker"}])
    keeper.store.close()


def test_the_first_boot_is_v0_even_for_an_application_without_entries(app_dir):
    write_app(app_dir, {"_index.yaml": 'version: "1.0"\nnamespace: app\nentries: []\n'})
    keeper = boot(app_dir)
    assert keeper.version == 0 and [h["version"] for h in keeper.store.history()] == [0]
    keeper.store.close()
