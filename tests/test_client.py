"""Programs attached to a node (wippy/client.py): several connections in one program."""
from __future__ import annotations

import os

import pytest

import wippy

APP = os.path.join(os.path.dirname(__file__), "data", "apps", "s4")
pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_a_program_may_connect_to_one_node_twice_and_close_either_first(app_dir):
    with wippy.Node(APP, data_dir=os.path.join(app_dir, "data")) as node:
        first = wippy.connect(node.run_dir)
        second = wippy.connect(node.run_dir)      # LMDB refuses a second open of one file
        try:
            assert first.pid != second.pid
            first.send(second.pid, "hello", 1)
            msg = second.receive(timeout=10)
            assert msg is not None and (msg.topic, msg.sender, msg.payload) == ("hello", first.pid, 1)
            assert first.registry.version() == second.registry.version() == node.registry.version()
            first.close()
            assert second.registry.get("app:a")["kind"] == "process.host"
            assert second.exec("t:returner", "app:a", 7, timeout=10) == 7
        finally:
            first.close()
            second.close()
        assert node.registry.get("app:b")["kind"] == "process.host"


DEEP_APP = {
    "config/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - name: h
            kind: process.host
          - name: deep
            kind: process.py
            source: file://deep.py
            method: main
        """,
    "config/deep.py": """
        from wippy import process, registry

        def nest(depth):
            value = 1
            for _ in range(depth):
                value = {"k": value}
            return value

        async def main(to):
            out = []
            try:
                process.send(to, "deep", nest(500))
            except Exception as exc:
                out.append(f"{type(exc).__name__}: {exc}")
            try:
                await registry.snapshot().changes().create(
                    {"id": "app:deep", "kind": "registry.entry", "data": {"v": nest(500)}}).apply()
            except Exception as exc:
                out.append(f"{type(exc).__name__}: {exc}")
            return out
        """,
}


def test_values_nested_hundreds_deep_are_refused_naming_the_entry_or_the_send(app_dir):
    from conftest import write_app
    app = write_app(app_dir, DEEP_APP)
    deep: object = 1
    for _ in range(600):
        deep = {"k": deep}
    with wippy.Node(app) as node:
        with pytest.raises(wippy.RegistryError, match=r"entry app:big: field 'v\.k\.k.*nested deeper than 100"):
            node.registry.snapshot().changes().create(
                {"id": "app:big", "kind": "registry.entry", "data": {"v": deep}}).apply()
        with pytest.raises(wippy.InvalidMessage, match=r"send to \{app:h/.*\(topic 't'\): payload nested"):
            node.send(node.spawn("app:deep", "app:h", node.pid), "t", deep)
        sent, applied = node.exec("app:deep", "app:h", node.pid, timeout=20)
        assert sent.startswith(f"InvalidMessage: send to {node.pid} (topic 'deep'): payload nested")
        assert applied.startswith("ChangeRejected: entry app:deep: field 'v.k.k")
