"""The public surface is frozen here, and the layers point one way."""
from __future__ import annotations

import ast
import os

import wippy

PUBLIC = [
    "__version__",
    "Node", "Connection", "connect",
    "process", "channel", "time", "funcs", "registry", "events", "system", "workflow", "coroutine", "to_thread",
    "Channel", "SelectResult", "Message", "Event", "Result",
    "WippyError", "ConfigError", "ProcessError", "ProcessNotFound", "ProcessFailed",
    "InvalidMessage", "SendBufferFull", "ChannelClosed", "Timeout", "Cancelled", "NodeError",
    "RegistryError", "EntryNotFound", "LimitExceeded",
]


def test_public_names_are_exactly_the_frozen_list():
    assert wippy.__all__ == PUBLIC
    for name in PUBLIC:
        assert hasattr(wippy, name), name


def test_every_error_is_a_wippy_error():
    for name in PUBLIC:
        obj = getattr(wippy, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, wippy.WippyError), name


PKG = os.path.dirname(wippy.__file__)
# one importer per heavy dependency (STYLE: one seam each)
SEAMS = {"zmq": {"transport.py"}, "lmdb": {"store.py"}, "yaml": {"loader.py"}}
# lower layers never import higher ones
LOW = {"wire", "pid", "errors", "scheduler", "channel", "transport", "durations"}
HIGH = {"node", "cli", "client", "host"}


def imports_of(path: str) -> set[str]:
    tree = ast.parse(open(path).read())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                out.update((node.module or "").split(".")[:1] or [a.name for a in node.names])
                if not node.module:
                    out.update(a.name for a in node.names)
            elif node.module:
                out.add(node.module.split(".")[0])
    return out


def test_each_heavy_dependency_has_one_importer():
    for fname in os.listdir(PKG):
        if not fname.endswith(".py"):
            continue
        found = imports_of(os.path.join(PKG, fname))
        for dep, allowed in SEAMS.items():
            if dep in found:
                assert fname in allowed, f"{fname} imports {dep}"


def test_lower_layers_do_not_import_the_node_or_cli():
    for mod in LOW:
        found = imports_of(os.path.join(PKG, mod + ".py"))
        assert not (found & HIGH), f"{mod} imports {found & HIGH}"
