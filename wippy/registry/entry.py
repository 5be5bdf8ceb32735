"""The registry's entry model: an entry, its two plain forms, its kind, and where its code lives.

Entry: :class:`Entry` is one validated entry as the loader reads it from a file (with the file
position of each field). Two plain forms leave it, each built by one function:

* the *public* form (:func:`public_entry`): ``{"id", "kind", "meta", "data"}``, what
  ``registry.get`` returns, what events carry and what ``changes:create`` takes;
* the *stored* form (:func:`stored_entry`): the public form plus ``path`` and ``base_dir`` (where
  it came from) and, for a ``file://`` source, ``source_hash``, so that editing a code file
  changes the entry (and restarts what runs it). This is what LMDB holds, byte for byte (its
  layout is frozen by a golden test in ``tests/test_store.py``).

Kinds: the closed set of entry kinds (:class:`Kind`) and the families the rest of wippy asks
about (``LUA``, ``PYTHON``, ``WORKFLOW``...), defined once here.

Sources: the one owner of ``file://`` resolution. A relative path resolves against the directory of
the YAML file that declared the entry (``base_dir``); the validator stores the result as an
absolute ``file:///...`` URL so that an entry read back from the registry still finds its code.

Confinement: a source must lie inside the application directory once every symlink is
resolved. Code is what an agent would reach for to leave its sandbox (a ``function.py`` whose
source is the standard library's ``os.py`` is a shell), so the rule holds at boot, at every
registry change, and again where code is loaded, in case an older registry holds an entry from
before the rule.
"""
from __future__ import annotations

import enum
import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigIssue, PermissionDenied, TooLarge

__all__ = ["Kind", "KINDS", "HOST_KINDS", "LUA_KINDS", "PYTHON_KINDS", "CODE_KINDS",
           "WORKFLOW_KINDS", "PROCESS_KINDS", "FUNCTION_KINDS", "RUNNABLE_KINDS", "HTTP_KINDS",
           "SQL_KINDS", "STORE_KINDS", "QUEUE_KINDS", "ENV_STORAGE_KINDS", "ENV_KINDS",
           "RESOURCE_KINDS",
           "FILE_SCHEME", "app_root", "source_path", "outside_reason", "is_inside", "set_app_root", "code_file",
           "Entry", "CodeCheck", "public_entry", "stored_entry", "source_hash", "source_file",
           "plain_copy", "TooLarge", "MAX_NODES", "MAX_DEPTH", "too_deep"]


class Kind(str, enum.Enum):
    """Every kind of registry entry (S3). An unknown kind is an error, never ignored."""

    PROCESS_HOST = "process.host"
    TERMINAL_HOST = "terminal.host"
    PROCESS_LUA = "process.lua"
    FUNCTION_LUA = "function.lua"
    LIBRARY_LUA = "library.lua"
    WORKFLOW_LUA = "workflow.lua"
    PROCESS_PY = "process.py"
    FUNCTION_PY = "function.py"
    WORKFLOW_PY = "workflow.py"
    PROCESS_SERVICE = "process.service"
    SUPERVISOR = "supervisor"
    REGISTRY_ENTRY = "registry.entry"
    SECURITY_POLICY = "security.policy"
    HTTP_SERVICE = "http.service"
    HTTP_ROUTER = "http.router"
    HTTP_ENDPOINT = "http.endpoint"
    DB_SQLITE = "db.sql.sqlite"
    DB_POSTGRES = "db.sql.postgres"
    STORE_MEMORY = "store.memory"
    STORE_SQL = "store.sql"
    QUEUE_DRIVER_MEMORY = "queue.driver.memory"
    QUEUE_DRIVER_SQL = "queue.driver.sql"
    QUEUE_QUEUE = "queue.queue"
    QUEUE_CONSUMER = "queue.consumer"
    ENV_STORAGE_OS = "env.storage.os"
    ENV_STORAGE_MEMORY = "env.storage.memory"
    ENV_STORAGE_FILE = "env.storage.file"
    ENV_STORAGE_STATIC = "env.storage.static"
    ENV_STORAGE_ROUTER = "env.storage.router"
    ENV_VARIABLE = "env.variable"
    FS_DIRECTORY = "fs.directory"
    EXEC_NATIVE = "exec.native"
    TEMPLATE_SET = "template.set"
    TEMPLATE_JET = "template.jet"


def _family(*kinds: Kind) -> frozenset[str]:
    # plain strings: stored entries carry their kind as a str, and an Enum member hashes by name
    return frozenset(k.value for k in kinds)


KINDS = _family(*Kind)
HOST_KINDS = _family(Kind.PROCESS_HOST, Kind.TERMINAL_HOST)
LUA_KINDS = _family(Kind.PROCESS_LUA, Kind.FUNCTION_LUA, Kind.LIBRARY_LUA, Kind.WORKFLOW_LUA)
PYTHON_KINDS = _family(Kind.PROCESS_PY, Kind.FUNCTION_PY, Kind.WORKFLOW_PY)
CODE_KINDS = LUA_KINDS | PYTHON_KINDS
WORKFLOW_KINDS = _family(Kind.WORKFLOW_LUA, Kind.WORKFLOW_PY)
#: What a ``process.service`` may run, and what ``spawn`` may start.
PROCESS_KINDS = _family(Kind.PROCESS_LUA, Kind.PROCESS_PY) | WORKFLOW_KINDS
#: What ``funcs.call`` may call.
FUNCTION_KINDS = _family(Kind.FUNCTION_LUA, Kind.FUNCTION_PY)
#: HTTP's kinds (S13): a server, its routers, their endpoints.
HTTP_KINDS = _family(Kind.HTTP_SERVICE, Kind.HTTP_ROUTER, Kind.HTTP_ENDPOINT)
#: Resources (S13): SQL databases, key-value stores, queues and their drivers, environment.
SQL_KINDS = _family(Kind.DB_SQLITE, Kind.DB_POSTGRES)
STORE_KINDS = _family(Kind.STORE_MEMORY, Kind.STORE_SQL)
QUEUE_KINDS = _family(Kind.QUEUE_DRIVER_MEMORY, Kind.QUEUE_DRIVER_SQL, Kind.QUEUE_QUEUE,
                      Kind.QUEUE_CONSUMER)
ENV_STORAGE_KINDS = _family(Kind.ENV_STORAGE_OS, Kind.ENV_STORAGE_MEMORY, Kind.ENV_STORAGE_FILE,
                            Kind.ENV_STORAGE_STATIC, Kind.ENV_STORAGE_ROUTER)
ENV_KINDS = ENV_STORAGE_KINDS | {Kind.ENV_VARIABLE.value}
RESOURCE_KINDS = SQL_KINDS | STORE_KINDS | QUEUE_KINDS | ENV_KINDS
#: What a host can run: code (a library is only ever imported), an endpoint, which a host
#: runs for each HTTP request its server dispatches (the endpoint's function in a process),
#: and a queue consumer, which it runs for each message the node delivers to it.
RUNNABLE_KINDS = ((CODE_KINDS - {Kind.LIBRARY_LUA.value})
                  | {Kind.HTTP_ENDPOINT.value, Kind.QUEUE_CONSUMER.value})

FILE_SCHEME = "file://"


def source_path(source: Any, base_dir: str) -> str | None:
    """Absolute, normalized path of a ``file://`` source; None for inline code (or no source)."""
    if not isinstance(source, str) or not source.startswith(FILE_SCHEME):
        return None
    return os.path.normpath(os.path.join(base_dir or ".", source[len(FILE_SCHEME):]))


def is_inside(path: str, root: str) -> bool:
    """Whether ``path``, every symlink resolved, lies inside directory ``root``."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def outside_reason(path: str, root: str) -> str | None:
    """Why ``path`` may not be used as code under application ``root``, or None when it may."""
    if is_inside(path, root):
        return None
    real = os.path.realpath(path)
    via = f" (a symlink to {real})" if real != os.path.normpath(path) else ""
    return (f"source {path}{via} is outside the application directory {os.path.realpath(root)}; "
            "code must live inside the application")


_root: list[str | None] = [None]


def set_app_root(app_dir: str) -> None:
    """The application directory this OS process loads code from (set once by its host)."""
    _root[0] = app_dir


def app_root() -> str | None:
    """The application directory set by :func:`set_app_root` (None: not set)."""
    return _root[0]


def code_file(entry: dict[str, Any]) -> str | None:
    """The file holding a stored entry's code (None for inline code), refused with
    :class:`PermissionDenied` when it lies outside the application."""
    path = source_path((entry.get("data") or {}).get("source"), entry.get("base_dir") or ".")
    if path is not None and _root[0] is not None:
        outside = outside_reason(path, _root[0])
        if outside is not None:
            raise PermissionDenied(f"entry {entry.get('id')}: {outside}")
    return path


# -- the entry and its plain forms -------------------------------------------------------------

#: Upper bound on values copied out of one entry (or one YAML file after alias expansion): a
#: "billion laughs" guard.
MAX_NODES = 250_000


#: Levels of nesting allowed in an entry's data and meta, as in a message's payload: the encoders
#: (JSON, pickle) recurse once per level, so a deeper entry could not be stored or sent.
MAX_DEPTH = 100


def too_deep(value: Any, limit: int = MAX_DEPTH) -> str | None:
    """The path (``a.b[2].c``) of the first map or list nested deeper than ``limit`` levels
    inside ``value``, or None. Iterative, so any depth is safe to check."""
    stack: list[tuple[Any, int, Any]] = [(value, 0, None)]
    while stack:
        v, depth, trail = stack.pop()
        if isinstance(v, dict):
            items: Any = v.items()
        elif isinstance(v, (list, tuple)):
            items = enumerate(v)
        else:
            continue
        if depth > limit:
            parts = []
            while trail is not None:
                key, trail = trail
                parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
            return "".join(reversed(parts)).lstrip(".")
        for key, sub in items:
            stack.append((sub, depth + 1, (key, trail)))
    return None


def plain_copy(value: Any, budget: list[int]) -> Any:
    """Deep copy into plain dicts and lists (sets and tuples become lists), counting every
    value against ``budget[0]``; raises :class:`TooLarge` when it runs out."""
    budget[0] -= 1
    if budget[0] < 0:
        raise TooLarge
    if isinstance(value, dict):
        return {k: plain_copy(v, budget) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain_copy(v, budget) for v in value]
    return value


def public_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The public form ``{"id", "kind", "meta", "data"}`` of a stored (or public) entry.

    ``meta`` and ``data`` are fresh top-level dicts; nested values are shared with ``entry``
    (this runs for every entry ``find`` looks at, so it copies no deeper)."""
    return {"id": entry["id"], "kind": entry["kind"], "meta": dict(entry.get("meta") or {}),
            "data": dict(entry.get("data") or {})}


def source_hash(path: str) -> str | None:
    """A short hash of the file at ``path`` (None when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()[:16]
    except OSError:
        return None


def stored_entry(entry: Mapping[str, Any], path: str = "", base_dir: str = "") -> dict[str, Any]:
    """The stored form of a public entry: what LMDB holds (``id kind meta data path base_dir``,
    plus ``source_hash`` for a ``file://`` source). Reads the source file to hash it."""
    out = public_entry(entry)
    out["path"], out["base_dir"] = path, base_dir
    src = source_path(out["data"].get("source"), base_dir)
    if src is not None:
        out["source_hash"] = source_hash(src)
    return out


@dataclass(frozen=True, slots=True)
class Entry:
    """One validated registry entry. ``data`` holds every root field but name, kind and meta,
    normalized by its kind's validator (defaults filled in, references as full ids).

    ``path``/``line``/``col``/``field_pos`` place the entry and its fields in the YAML file it
    came from (empty for an entry made at run time); ``base_dir`` resolves its ``file://``
    source."""

    id: str
    namespace: str
    name: str
    kind: str
    meta: dict[str, Any]
    data: dict[str, Any]
    path: str = ""
    line: int = 0
    col: int = 0
    field_pos: dict[str, tuple[int, int]] = field(default_factory=dict)
    base_dir: str = ""

    def to_plain(self) -> dict[str, Any]:
        """The public form as a fresh, JSON-able deep copy."""
        budget = [MAX_NODES]
        return public_entry({"id": self.id, "kind": self.kind,
                             "meta": plain_copy(self.meta, budget),
                             "data": plain_copy(self.data, budget)})

    def stored(self) -> dict[str, Any]:
        """The stored form (see :func:`stored_entry`)."""
        return stored_entry(self.to_plain(), self.path, self.base_dir)

    @classmethod
    def from_plain(cls, d: Mapping[str, Any]) -> Entry:
        """Rebuild from the public form (no file position). Raises ``ValueError`` for an id
        that is not ``namespace:name``."""
        entry_id = d.get("id")
        ns, _, name = entry_id.partition(":") if isinstance(entry_id, str) else ("", "", "")
        if not ns or not name:
            raise ValueError(f"invalid entry id {entry_id!r} (expected 'namespace:name')")
        budget = [MAX_NODES]
        return cls(str(entry_id), ns, name, str(d.get("kind", "")),
                   plain_copy(d.get("meta") or {}, budget), plain_copy(d.get("data") or {}, budget))


def source_file(entry: Entry) -> str | None:
    """Absolute path of a ``source: file://...`` entry's code, or None for inline source."""
    return source_path(entry.data.get("source"), entry.base_dir or os.getcwd())


#: A check of an entry's code (Lua must translate): the issues, empty when the code is fine.
#: The layer that boots an application hands one to the loader and to the change planner
#: (``wippy.typedlua.lint.check_entry``), so neither imports the code tools above it.
CodeCheck = Callable[[Entry], list[ConfigIssue]]
