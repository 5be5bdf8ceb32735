"""Turn a registry entry (or a shipped function) into the callable a process runs, through the
table of runners the host hands the runtime.

A :data:`Runner` turns a stored entry into a callable: the main a spawn runs, or the method a
``funcs.call`` runs. Which runner serves which kind is not known here: the host builds the
table (``wippy.host.runners``: Python code from files, Lua, workflow kinds wrapped in replay),
so the runtime imports nothing above it. This module owns the Python runner
(:func:`python_runner`) and the cache.

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
from typing import Any, Callable, Mapping

from ..errors import EntryNotFound, InvalidMessage
from ..registry.entry import PYTHON_KINDS, WORKFLOW_KINDS, code_file
from ..security import context as _security
from ..security.book import BOOK
from . import scheduler

__all__ = ["Runner", "Runners", "resolve", "python_runner", "kind_of", "invalidate",
           "entry_source_path", "PY_KINDS", "WORKFLOW_KINDS", "author_of", "catch_up"]

#: Turns a stored entry into the callable its processes run (or its callers call).
Runner = Callable[[dict[str, Any]], Callable[..., Any]]
#: Entry kind -> its runner: what a host can run.
Runners = Mapping[str, Runner]

PY_KINDS = PYTHON_KINDS
_modules: dict[tuple[str, int, int], Any] = {}
# entry id -> (callable, is a coroutine function). Spawning must not touch LMDB or the file
# system; the cache is dropped for entries that a new registry version changes.
_callables: dict[str, tuple[Callable[..., Any], bool]] = {}


def invalidate(entry_ids: Any = None) -> None:
    """Forget what was derived from entries (code, kinds, authors, and the policies this OS
    process evaluates): for the given entry ids, or all of it."""
    if entry_ids is None:
        _callables.clear()
        _kinds.clear()
        _authors.clear()
        BOOK.changed(None)
    else:
        entry_ids = list(entry_ids)
        for entry_id in entry_ids:
            _callables.pop(entry_id, None)
            _kinds.pop(entry_id, None)
            _authors.pop(entry_id, None)
        BOOK.changed(entry_ids)


_seen_version: list[int | None] = [None]
_checked_turn = [-1]      # the scheduler's turn in which the version was last read


def _catch_up(store: Any) -> None:
    """Drop cached code of every entry changed since the version we last saw. Checked on
    the first spawn by a process in each scheduler turn and on every spawn that arrives from
    another OS process (one LMDB read, ~2 us), so a spawn made after ``apply`` returned runs
    the new code even when the node's change notice has not reached this host yet (read your
    writes): whatever told a process of this host that ``apply`` returned arrived before the
    turn began (frames are drained between turns), or came from a process of this host whose
    own ``apply`` read the new version (:func:`catch_up`)."""
    sched = scheduler.get()
    if sched.current is not None:       # a process runs: once per turn
        if sched.turn == _checked_turn[0]:
            return
        _checked_turn[0] = sched.turn
    _read_version(store)                # a frame from elsewhere (between turns): every time


def _read_version(store: Any) -> None:
    version = store.version()
    seen = _seen_version[0]
    if version == seen:
        return
    if seen is None or version is None or version < seen:
        _callables.clear()
        _kinds.clear()
        _authors.clear()
        if seen is not None:
            BOOK.changed(None)
    else:
        for v in range(seen + 1, version + 1):
            record = store.changeset(v) or {}
            invalidate([e["id"] for e in record.get("created", []) + record.get("updated", [])]
                       + list(record.get("deleted", [])))
    _seen_version[0] = version


def catch_up(store: Any) -> None:
    """Bring the caches up to the store's current version now (after this process's own
    ``apply``)."""
    _read_version(store)


_kinds: dict[str, str | None] = {}
_authors: dict[str, Any] = {}


def author_of(store: Any, entry_id: str) -> Any:
    """The security context an entry was authored under (its ``author`` stamp), or None for
    the operator's entries. Cached like the code: call it after :func:`resolve` or
    :func:`kind_of`, which bring the caches up to date."""
    if store is None:
        return None
    try:
        return _authors[entry_id]
    except KeyError:
        pass
    entry = store.get(entry_id)
    stamp = (entry or {}).get("author")
    ctx = _security.from_wire(stamp.get("context")) if isinstance(stamp, dict) else None
    _authors[entry_id] = ctx
    return ctx


def kind_of(store: Any, entry_id: str) -> str | None:
    """An entry's kind, cached like the code (one LMDB read per new version, not per spawn)."""
    if store is None:
        return None
    _catch_up(store)
    if entry_id not in _kinds:
        entry = store.get(entry_id)
        _kinds[entry_id] = None if entry is None else entry.get("kind")
    return _kinds[entry_id]


def resolve(store: Any, entry_id: str, code: bytes | None, runners: Runners,
            expect: frozenset[str] | None = None) -> tuple[Callable[..., Any], bool]:
    """(callable, is_coroutine_function) for a spawn of ``entry_id`` (or of the shipped
    ``code``), cached per entry id. ``runners``: the host's table; ``expect``: the kinds the
    entry must have (``funcs.call`` asks for a function)."""
    if code is not None:
        fn = _shipped(code)
        return fn, inspect.iscoroutinefunction(fn)
    if store is not None:
        _catch_up(store)
    if expect is not None:
        kind = _kinds.get(entry_id) if entry_id in _kinds else kind_of(store, entry_id)
        if kind is None:
            raise EntryNotFound(f"entry {entry_id} not found in the registry")
        if kind not in expect:
            raise InvalidMessage(f"entry {entry_id} is a {kind}, not one of "
                                 f"{', '.join(sorted(expect))}")
    hit = _callables.get(entry_id)
    if hit is not None:
        return hit
    entry = store.get(entry_id) if store is not None else None
    if entry is None:
        raise EntryNotFound(f"entry {entry_id} not found in the registry")
    runner = runners.get(entry.get("kind"))
    if runner is None:
        raise InvalidMessage(f"entry {entry_id} of kind {entry.get('kind')} cannot be spawned")
    fn = runner(entry)
    pair = (fn, inspect.iscoroutinefunction(fn))
    _callables[entry_id] = pair
    return pair


def entry_source_path(entry: dict[str, Any]) -> str | None:
    """The file holding an entry's code (None for inline code); refused outside the app."""
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


def _shipped(code: bytes) -> Callable[..., Any]:
    import cloudpickle  # only the Python API ships code
    fn = cloudpickle.loads(code)
    if not callable(fn):
        raise InvalidMessage("shipped code is not callable")
    return fn


def python_runner(entry: dict[str, Any]) -> Callable[..., Any]:
    """The runner of Python entries: the ``method`` (default ``main``) of the entry's file."""
    mod = _load_module(entry)
    method = entry.get("data", {}).get("method") or "main"
    fn = getattr(mod, method, None)
    if fn is None or not callable(fn):
        raise InvalidMessage(f"entry {entry['id']}: {entry_source_path(entry)} has no function '{method}'")
    return fn
