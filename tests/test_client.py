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
