"""Turn a registry entry (or a shipped function) into the callable a process runs.

``process.py`` / ``function.py`` entries name a Python file (``source: file://x.py``) and a
``method``. Modules are loaded with importlib under a private name and cached by the file's
(path, mtime, size), so an edited file is loaded again on the next spawn while running
processes keep the code they started with.

A function shipped from the Python API (S7: spawn a plain function or closure) arrives as
cloudpickle bytes; that only ever comes over the node's private ipc sockets.
"""
from __future__ import annotations

import importlib.util
import inspect
import os
import re
import sys
from typing import Any, Callable

from ..errors import EntryNotFound, InvalidMessage
from ..registry.entry import PYTHON_KINDS, WORKFLOW_KINDS, code_file

__all__ = ["load_callable", "resolve", "invalidate", "entry_source_path", "PY_KINDS",
           "WORKFLOW_KINDS"]

PY_KINDS = PYTHON_KINDS
_modules: dict[tuple[str, int, int], Any] = {}
# entry id -> (callable, is a coroutine function). Spawning must not touch LMDB or the file
# system; the cache is dropped for entries that a new registry version changes.
_callables: dict[str, tuple[Callable[..., Any], bool]] = {}


def invalidate(entry_ids: Any = None) -> None:
    """Forget cached code: for the given entry ids, or all of it."""
    if entry_ids is None:
        _callables.clear()
        _kinds.clear()
    else:
        for entry_id in entry_ids:
            _callables.pop(entry_id, None)
            _kinds.pop(entry_id, None)


_seen_version: list[int | None] = [None]


def _catch_up(store: Any) -> None:
    """Drop cached code of every entry changed since the version we last saw. Checked on each
    spawn (one LMDB read, ~1 us), so a spawn made after ``apply`` returned runs the new code
    even when the node's change notice has not reached this host yet (read your writes)."""
    version = store.version()
    seen = _seen_version[0]
    if version == seen:
        return
    if seen is None or version is None or version < seen:
        _callables.clear()
        _kinds.clear()
    else:
        for v in range(seen + 1, version + 1):
            record = store.changeset(v) or {}
            invalidate([e["id"] for e in record.get("created", []) + record.get("updated", [])]
                       + list(record.get("deleted", [])))
    _seen_version[0] = version


_kinds: dict[str, str | None] = {}


def kind_of(store: Any, entry_id: str) -> str | None:
    """An entry's kind, cached like the code (one LMDB read per new version, not per spawn)."""
    if store is None:
        return None
    _catch_up(store)
    if entry_id not in _kinds:
        entry = store.get(entry_id)
        _kinds[entry_id] = None if entry is None else entry.get("kind")
    return _kinds[entry_id]


def resolve(store: Any, entry_id: str, code: bytes | None,
            expect: frozenset[str] | None = None) -> tuple[Callable[..., Any], bool]:
    """(callable, is_coroutine_function) for a spawn, cached per entry id. ``expect``: the
    kinds the entry must have (checked when it is loaded)."""
    if store is not None:
        _catch_up(store)
    if code is None:
        hit = _callables.get(entry_id)
        if hit is not None:
            return hit
    if expect is not None and code is None:
        entry = store.get(entry_id) if store is not None else None
        if entry is not None and entry.get("kind") not in expect:
            raise InvalidMessage(f"entry {entry_id} is a {entry.get('kind')}, not one of "
                                 f"{', '.join(sorted(expect))}")
    fn = load_callable(store, entry_id, code)
    pair = (fn, inspect.iscoroutinefunction(fn))
    if code is None:
        _callables[entry_id] = pair
    return pair


def entry_source_path(entry: dict[str, Any]) -> str | None:
    return code_file(entry)


def _load_module(entry: dict[str, Any]) -> Any:
    path = entry_source_path(entry)
    if path is None:
        raise InvalidMessage(f"entry {entry['id']}: Python code must come from a file "
                             "(source: file://...); inline Python source is refused")
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    mod = _modules.get(key)
    if mod is None:
        name = "wippy_app." + re.sub(r"\W", "_", entry["id"]) + f"_{st.st_mtime_ns:x}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise InvalidMessage(f"entry {entry['id']}: cannot load {path}")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        _modules[key] = mod
    return mod


def load_callable(store: Any, entry_id: str, code: bytes | None) -> Callable[..., Any]:
    """The function to run for a spawn of ``entry_id`` (or the shipped ``code``)."""
    if code is not None:
        import cloudpickle  # only the Python API ships code
        fn = cloudpickle.loads(code)
        if not callable(fn):
            raise InvalidMessage("shipped code is not callable")
        return fn
    entry = store.get(entry_id) if store is not None else None
    if entry is None:
        raise EntryNotFound(f"entry {entry_id} not found in the registry")
    kind = entry.get("kind")
    if kind not in PY_KINDS:
        if kind in ("process.lua", "function.lua"):
            from ..lua import entry_runner  # lupa is imported on the first Lua spawn only
            return entry_runner(store, entry_id)
        if kind == "workflow.lua":    # the Lua main, replayed like a workflow.py main
            from ..lua import entry_runner
            from ..workflow import runner
            return runner(entry_runner(store, entry_id))
        raise InvalidMessage(f"entry {entry_id} of kind {kind} cannot be spawned")
    mod = _load_module(entry)
    method = entry.get("data", {}).get("method") or "main"
    fn = getattr(mod, method, None)
    if fn is None or not callable(fn):
        raise InvalidMessage(f"entry {entry_id}: {entry_source_path(entry)} has no function '{method}'")
    if kind == "workflow.py":
        from ..workflow import runner  # replayed, journaled: see wippy.workflow
        return runner(fn)
    return fn
