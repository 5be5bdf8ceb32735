"""What a registry change needs: the actions each changed entry is checked for (S9).

Pure rules, used by the change planner (:mod:`wippy.registry.changes`), which asks its
``authorize`` callback for each of them before anything is committed:

* ``registry.apply`` on every created, updated or deleted entry, with ``{kind, ns, op}`` as the
  metadata a policy's conditions see (``meta.kind in [function.lua]``);
* ``registry.apply.python`` on an entry whose Python code is created or altered (``process.py``,
  ``function.py``, ``workflow.py``): Python is not sandboxed;
* ``registry.apply.security`` on ``security.*`` entries, host entries (``process.host``,
  ``terminal.host``: they decide where and how much code runs) and any entry whose
  ``lifecycle.security`` is set, changed or removed: without it an agent could widen its own
  policy, or give itself a service running under another actor.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..registry.entry import HOST_KINDS, PYTHON_KINDS

__all__ = ["APPLY", "APPLY_PYTHON", "APPLY_SECURITY", "APPLY_VERSION", "python_code_changed",
           "security_changed", "required", "content", "apply_meta"]

APPLY = "registry.apply"
APPLY_PYTHON = "registry.apply.python"
APPLY_SECURITY = "registry.apply.security"
APPLY_VERSION = "registry.apply_version"

Entry = Mapping[str, Any]


def content(entry: Entry) -> dict[str, Any]:
    """An entry without its author stamp: what two versions of it are compared by."""
    return {k: v for k, v in entry.items() if k != "author"}


def python_code_changed(before: Entry | None, after: Entry | None) -> bool:
    """Whether storing ``after`` over ``before`` creates or alters Python code (a change of
    ``meta`` alone does not; deleting code creates none)."""
    if after is None:
        return False
    if after.get("kind") not in PYTHON_KINDS and (before or {}).get("kind") not in PYTHON_KINDS:
        return False
    return (before is None or before.get("kind") != after.get("kind")
            or before.get("data") != after.get("data"))


def _security_kind(kind: Any) -> bool:
    return isinstance(kind, str) and (kind.startswith("security.") or kind in HOST_KINDS)


def _lifecycle_security(entry: Entry | None) -> Any:
    data = (entry or {}).get("data") or {}
    lifecycle = data.get("lifecycle") if isinstance(data, Mapping) else None
    return lifecycle.get("security") if isinstance(lifecycle, Mapping) else None


def security_changed(before: Entry | None, after: Entry | None) -> bool:
    """Whether the change touches security: a ``security.*`` or host entry (before or after),
    or an entry's ``lifecycle.security``."""
    if _security_kind((before or {}).get("kind")) or _security_kind((after or {}).get("kind")):
        return True
    return _lifecycle_security(before) != _lifecycle_security(after)


def required(op: str, entry_id: str, before: Entry | None,
             after: Entry | None) -> list[tuple[str, dict[str, Any]]]:
    """The checks beyond ``registry.apply`` that storing ``after`` over ``before`` (None:
    absent) needs, each with its metadata. ``registry.apply`` itself is asked for first, before
    the entry is validated (see :func:`apply_meta`)."""
    meta = apply_meta(op, entry_id, (after or before or {}).get("kind"))
    out: list[tuple[str, dict[str, Any]]] = []
    if python_code_changed(before, after):
        out.append((APPLY_PYTHON, meta))
    if security_changed(before, after):
        out.append((APPLY_SECURITY, meta))
    return out


def apply_meta(op: str, entry_id: str, kind: Any) -> dict[str, Any]:
    """What a policy's conditions see of a change: ``{kind, ns, op}``."""
    return {"kind": kind, "ns": entry_id.partition(":")[0], "op": op}
