"""Environment variables as Wippy defines them (S13): ``env.storage.*`` entries hold values,
``env.variable`` entries name them; the ``env`` module reads and writes through the variables,
and ``${env:NAME}`` placeholders in resource entries resolve the same way.

Where values live, per storage kind: ``env.storage.os`` is the OS environment (read-only, as in
Wippy), ``env.storage.static`` the entry's ``values`` (read-only), ``env.storage.file`` a
``.env`` file (``KEY=VALUE``, ``#`` comments; a path relative to the application directory),
read by every host and written under an ``flock``, ``env.storage.memory`` the node (one dict
for the whole node: :mod:`wippy.node.resources`, reached by ``request``), and
``env.storage.router`` its storages in order (reads take the first that has the name, writes go
to the first).

A name is a variable's public name (``variable:``), else its entry id, else an entry id in the
caller's namespace. A value that is empty counts as unset; an unset variable gives its
``default``, else NOT_FOUND. Setting a variable marked ``readonly`` (Wippy's spelling; its
runtime ignores ``read_only``, and so does this one, with a warning at load) or one whose
storage is read-only is PERMISSION_DENIED.

An application that declares no ``env.variable`` at all keeps the simple form: names are OS
environment variables, and ``env.set`` writes an overlay private to the host OS process.

Every function here is async and runs inside a process (``request`` reaches the node).
"""
from __future__ import annotations

import fcntl
import os
import re
from typing import Any, Awaitable, Callable, Mapping

from ..errors import ResourceError
from ..registry.entry import ENV_STORAGE_KINDS, Kind, app_root

__all__ = ["EnvIndex", "index", "get", "set_value", "get_all", "resolve", "resolve_now",
           "has_placeholders",
           "parse_env_file", "Request"]

#: ``request(family, op, *args)``: ask the node (``wippy.node.resources``).
Request = Callable[..., Awaitable[Any]]

_OVERLAY: dict[str, str] = {}        # env.set of an application without env.variable entries
_PLACEHOLDER = re.compile(r"\$\$\{|\$\{env:([^}|]+)(?:\|([^}]*))?\}|\$\{([A-Z0-9_]+)\|([^}]*)\}")


class EnvIndex:
    """Variables and storages of one registry version."""

    __slots__ = ("version", "by_name", "by_id", "storages")

    def __init__(self, version: Any, entries: Mapping[str, Mapping[str, Any]]) -> None:
        self.version = version
        self.by_name: dict[str, dict[str, Any]] = {}
        self.by_id: dict[str, dict[str, Any]] = {}
        self.storages: dict[str, Mapping[str, Any]] = {}
        for eid, e in entries.items():
            kind = e.get("kind")
            if kind in ENV_STORAGE_KINDS:
                self.storages[eid] = e
            elif kind == Kind.ENV_VARIABLE.value:
                data = dict(e.get("data") or {})
                var = {"id": eid, "name": data.get("variable") or eid,
                       "storage": data.get("storage"), "default": data.get("default"),
                       "readonly": bool(data.get("readonly"))}
                self.by_id[eid] = var
                self.by_name.setdefault(str(var["name"]), var)

    def find(self, name: str, namespace: str = "") -> dict[str, Any] | None:
        var = self.by_name.get(name) or self.by_id.get(name)
        if var is None and ":" not in name and namespace:
            var = self.by_id.get(f"{namespace}:{name}")
        return var


_INDEX: list[EnvIndex] = []


def index(store: Any) -> EnvIndex:
    """The index of the registry as ``store`` (this OS process's LMDB reader) holds it now."""
    version = store.version() if store is not None else None
    if _INDEX and _INDEX[0].version == version and version is not None:
        return _INDEX[0]
    idx = EnvIndex(version, store.entries() if store is not None else {})
    _INDEX[:] = [idx]
    return idx


# -- storages ------------------------------------------------------------------------------
def _file_path(entry: Mapping[str, Any]) -> str:
    path = str((entry.get("data") or {}).get("file_path") or "")
    return path if os.path.isabs(path) else os.path.join(app_root() or os.getcwd(), path)


def parse_env_file(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines (``#`` comments, optional ``export``, quotes stripped)."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key] = value
    return out


def _read_file(entry: Mapping[str, Any]) -> dict[str, str]:
    try:
        with open(_file_path(entry), encoding="utf-8") as fh:
            return parse_env_file(fh.read())
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ResourceError("UNAVAILABLE", f"env storage {entry['id']}: {exc}") from None


def _write_file(entry: Mapping[str, Any], name: str, value: str) -> None:
    data = entry.get("data") or {}
    path = _file_path(entry)
    if not os.path.exists(path):
        if not data.get("auto_create"):
            raise ResourceError("NOT_FOUND", f"env storage {entry['id']}: {path} does not exist "
                                             "(auto_create is false)")
        os.makedirs(os.path.dirname(path) or ".", mode=int(data.get("dir_mode", 0o755)),
                    exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, int(data.get("file_mode", 0o644)))
    with os.fdopen(fd, "r+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)          # hosts write the same file: one at a time
        lines = fh.read().splitlines()
        done = False
        for i, line in enumerate(lines):
            key = line.partition("=")[0].strip().removeprefix("export ").strip()
            if "=" in line and not line.lstrip().startswith("#") and key == name:
                lines[i] = f"{name}={value}"
                done = True
        if not done:
            lines.append(f"{name}={value}")
        fh.seek(0)
        fh.write("\n".join(lines) + "\n")
        fh.truncate()


def _read_only(entry: Mapping[str, Any]) -> ResourceError:
    return ResourceError("PERMISSION_DENIED", f"env storage {entry['id']} is read-only",
                         retryable=False)


async def _storage_get(idx: EnvIndex, sid: str, name: str, request: Request,
                       depth: int = 0) -> str | None:
    entry = idx.storages.get(sid)
    if entry is None:
        raise ResourceError("NOT_FOUND", f"env storage {sid} not found")
    kind = entry.get("kind")
    if kind == Kind.ENV_STORAGE_OS.value:
        return os.environ.get(name)
    if kind == Kind.ENV_STORAGE_STATIC.value:
        return ((entry.get("data") or {}).get("values") or {}).get(name)
    if kind == Kind.ENV_STORAGE_FILE.value:
        return _read_file(entry).get(name)
    if kind == Kind.ENV_STORAGE_MEMORY.value:
        got = await request("env", "get", sid, name)
        return None if got is None else str(got)
    if depth > 8:
        raise ResourceError("INVALID", f"env storage {sid}: routers nest too deeply")
    for child in (entry.get("data") or {}).get("storages") or []:
        value = await _storage_get(idx, child, name, request, depth + 1)
        if value:
            return value
    return None


async def _storage_set(idx: EnvIndex, sid: str, name: str, value: str, request: Request,
                       depth: int = 0) -> None:
    entry = idx.storages.get(sid)
    if entry is None:
        raise ResourceError("NOT_FOUND", f"env storage {sid} not found")
    kind = entry.get("kind")
    if kind in (Kind.ENV_STORAGE_OS.value, Kind.ENV_STORAGE_STATIC.value):
        raise _read_only(entry)
    if kind == Kind.ENV_STORAGE_FILE.value:
        _write_file(entry, name, value)
    elif kind == Kind.ENV_STORAGE_MEMORY.value:
        await request("env", "set", sid, name, value)
    else:
        children = (entry.get("data") or {}).get("storages") or []
        if not children or depth > 8:
            raise ResourceError("INVALID", f"env storage {sid}: no storage to write to")
        await _storage_set(idx, children[0], name, value, request, depth + 1)


async def _storage_list(idx: EnvIndex, sid: str, request: Request) -> dict[str, str]:
    entry = idx.storages[sid]
    kind = entry.get("kind")
    if kind == Kind.ENV_STORAGE_OS.value:
        return dict(os.environ)
    if kind == Kind.ENV_STORAGE_STATIC.value:
        return dict((entry.get("data") or {}).get("values") or {})
    if kind == Kind.ENV_STORAGE_FILE.value:
        return _read_file(entry)
    if kind == Kind.ENV_STORAGE_MEMORY.value:
        return dict(await request("env", "list", sid) or {})
    return {}          # a router lists nothing of its own: its storages are listed themselves


# -- the env module ------------------------------------------------------------------------
def _check_name(name: str) -> None:
    if not name:
        raise ResourceError("INVALID", "empty key", retryable=False)


async def get(store: Any, name: str, request: Request, namespace: str = "") -> str:
    """The value of variable ``name`` (its default when unset); raises NOT_FOUND."""
    _check_name(name)
    idx = index(store)
    if not idx.by_id:
        value = _OVERLAY.get(name, os.environ.get(name))
        if value is None:
            raise ResourceError("NOT_FOUND", f"environment variable {name} is not set")
        return value
    var = idx.find(name, namespace)
    if var is None:
        raise ResourceError("NOT_FOUND", f"environment variable {name} is not declared "
                                         "(no env.variable names it)")
    value = await _storage_get(idx, var["storage"], var["name"], request)
    if value:
        return value
    if var["default"]:
        return str(var["default"])
    raise ResourceError("NOT_FOUND", f"environment variable {name} is not set")


async def set_value(store: Any, name: str, value: str, request: Request,
                    namespace: str = "") -> bool:
    """Set variable ``name``; raises PERMISSION_DENIED for a read-only variable or storage."""
    _check_name(name)
    idx = index(store)
    if not idx.by_id:
        _OVERLAY[name] = value
        return True
    var = idx.find(name, namespace)
    if var is None:
        raise ResourceError("NOT_FOUND", f"environment variable {name} is not declared "
                                         "(no env.variable names it)")
    if var["readonly"]:
        raise ResourceError("PERMISSION_DENIED", f"environment variable {name} is read-only",
                            retryable=False)
    await _storage_set(idx, var["storage"], var["name"], value, request)
    return True


async def get_all(store: Any, request: Request) -> dict[str, str]:
    """Every value of every storage (Wippy's ``All``: storages in id order, later wins)."""
    idx = index(store)
    if not idx.by_id:
        return {**os.environ, **_OVERLAY}
    out: dict[str, str] = {}
    for sid in sorted(idx.storages):
        out.update(await _storage_list(idx, sid, request))
    return out


# -- placeholders --------------------------------------------------------------------------
def has_placeholders(value: Any) -> bool:
    """Whether plain data ``value`` holds a ``${...}`` placeholder anywhere."""
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, dict):
        return any(has_placeholders(v) for v in value.values())
    if isinstance(value, list):
        return any(has_placeholders(v) for v in value)
    return False


async def resolve(store: Any, value: Any, request: Request, where: str = "") -> Any:
    """``value`` (plain data) with every ``${env:NAME}``, ``${env:NAME|default}`` and
    ``${NAME|default}`` resolved (``$${`` is a literal ``${``). Raises ResourceError
    (INVALID) naming ``where`` for a variable that resolves to nothing without a default."""
    if isinstance(value, dict):
        return {k: await resolve(store, v, request, f"{where}.{k}" if where else k)
                for k, v in value.items()}
    if isinstance(value, list):
        return [await resolve(store, v, request, where) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    out: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(value):
        out.append(value[pos:m.start()])
        pos = m.end()
        if m.group(0) == "$${":
            out.append("${")
            continue
        name = m.group(1) or m.group(3)
        default = m.group(2) if m.group(1) else m.group(4)
        try:
            out.append(await get(store, name.strip(), request))
        except ResourceError as exc:
            if exc.kind != "NOT_FOUND" or default is None:
                raise ResourceError("INVALID", f"{where}: {m.group(0)}: {exc}") from None
            out.append(default)
    out.append(value[pos:])
    return "".join(out)


def resolve_now(store: Any, value: Any, request: Request, where: str = "") -> Any:
    """:func:`resolve` run to its end at once, for a caller outside any process (the node,
    resolving an ``http.service``'s ``addr``) whose ``request`` answers without waiting.
    Raises ResourceError as :func:`resolve` does."""
    coro = resolve(store, value, request, where)
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise ResourceError("INTERNAL", f"{where}: resolving a placeholder had to wait")
