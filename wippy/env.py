"""``wippy.env``: environment variables from the registry (``env.variable`` over
``env.storage.*`` entries), with Wippy's names (S13). Lua's ``env`` module is a view of this
one; the rules are in :mod:`wippy.resources.envvars`.

::

    await env.get("DATABASE_URL")      # its value, or its default; NOT_FOUND when neither
    await env.set("LOG_LEVEL", "debug")   # PERMISSION_DENIED for a readonly variable
    await env.get_all()                # every value the caller may read

Checked actions (S9): ``env.get`` [name] and ``env.set`` [name]; ``get_all`` keeps only the
names ``env.get`` allows, as Wippy does.
"""
from __future__ import annotations

from .errors import PermissionDenied
from .resources import envvars
from .resources import request as _request
from .runtime import table as _rt

__all__ = ["get", "set", "get_all"]


def _namespace(rt: object) -> str:
    try:
        entry = _rt.get().current().entry
    except RuntimeError:
        return ""
    return entry.rpartition(":")[0] if isinstance(entry, str) else ""


async def get(name: str) -> str:
    """The value of variable ``name``. Raises ResourceError (NOT_FOUND, INVALID) or
    PermissionDenied."""
    rt = _rt.get()
    rt.check("env.get", name)
    return await envvars.get(rt.store, name, _request, _namespace(rt))


async def set(name: str, value: str) -> bool:  # noqa: A001 - Wippy's name
    """Set variable ``name``. Raises ResourceError (PERMISSION_DENIED: read-only variable or
    storage; NOT_FOUND) or PermissionDenied."""
    rt = _rt.get()
    rt.check("env.set", name)
    return await envvars.set_value(rt.store, name, str(value), _request, _namespace(rt))


async def get_all() -> dict[str, str]:
    """Every variable's value the caller may read."""
    rt = _rt.get()
    out = await envvars.get_all(rt.store, _request)
    if rt.security() is None:
        return out
    allowed = {}
    for k, v in out.items():
        try:
            rt.check("env.get", k)
        except PermissionDenied:
            continue
        allowed[k] = v
    return allowed
