"""What the observer's page shows, as pure functions of what the node, the registry and the
journal say (no sockets, no files: the tests call them with plain data).

* :func:`trim_processes`: the node's status with at most ``cap`` processes listed per host
  OS process (a host may run 100,000; the page shows the first ones and the count);
* :func:`diff_rows`: what changed between two registry versions, entry by entry and, for an
  updated entry, field by field (``meta.x``, ``data.y``, ``kind``), before and after;
* :func:`workflow_row`, :func:`journal_view`: a workflow's summary and its journal (steps with
  timers' due times in seconds, signals);
* :func:`parse_version`: ``3`` or ``v3``.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..registry.diff import build_delta
from ..registry.entry import public_entry
from ..workflow.replay import recorded_ns

__all__ = ["trim_processes", "diff_rows", "workflow_row", "journal_view", "parse_version",
           "PROCESSES_PER_HOST"]

PROCESSES_PER_HOST = 200      # processes listed per host OS process (the count is always there)

_OPS = {"entry.create": "create", "entry.update": "update", "entry.delete": "delete"}


def parse_version(text: Any) -> int:
    """A registry version from ``3``, ``"3"`` or ``"v3"``; raises ValueError."""
    if isinstance(text, bool):
        raise ValueError(f"not a registry version: {text!r}")
    if isinstance(text, int):
        value = text
    else:
        value = int(str(text).strip().lstrip("vV"))
    if value < 0:
        raise ValueError(f"not a registry version: {text!r}")
    return value


def trim_processes(status: dict[str, Any], cap: int = PROCESSES_PER_HOST) -> dict[str, Any]:
    """``status`` with each host's ``processes`` cut to ``cap`` (busiest mailboxes first)
    and ``processes_shown`` set; the status is not changed in place."""
    hosts = []
    for h in status.get("hosts", []):
        procs = h.get("processes")
        if procs is None:
            hosts.append(h)
            continue
        ranked = sorted(procs, key=lambda p: (-(p.get("mailbox") or 0), str(p.get("pid"))))
        hosts.append({**h, "processes": ranked[:cap], "processes_shown": min(cap, len(procs))})
    return {**status, "hosts": hosts}


def _fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if before.get("kind") != after.get("kind"):
        out.append({"field": "kind", "before": before.get("kind"), "after": after.get("kind")})
    for part in ("meta", "data"):
        a, b = before.get(part) or {}, after.get(part) or {}
        for key in sorted(set(a) | set(b), key=str):
            if a.get(key, _MISSING) != b.get(key, _MISSING):
                out.append({"field": f"{part}.{key}",
                            "before": a.get(key), "after": b.get(key),
                            "added": key not in a, "removed": key not in b})
    return out


_MISSING = object()


def diff_rows(old: Iterable[Mapping[str, Any]], new: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The changes that turn entry list ``old`` into ``new`` (public or stored entries):
    ``{"op": "create" | "update" | "delete", "id", "kind", "entry"}``, an update with
    ``"fields"`` (``{"field", "before", "after", "added", "removed"}``), sorted by id."""
    old_by_id = {e["id"]: e for e in old}
    new_list = list(new)
    rows = []
    for change in build_delta(old_by_id.values(), new_list):
        entry = change["entry"]
        row: dict[str, Any] = {"op": _OPS[change["kind"]], "id": entry["id"],
                               "kind": entry.get("kind"), "entry": entry}
        if row["op"] == "update":
            row["fields"] = _fields(public_entry(old_by_id[entry["id"]]), entry)
        rows.append(row)
    return sorted(rows, key=lambda r: r["id"])


def workflow_row(w: Mapping[str, Any], steps: int) -> dict[str, Any]:
    """One workflow in the list: the journal's record without its input and result (they
    can be large; the journal view has them) and its number of steps."""
    return {"id": w.get("id"), "entry": w.get("entry"), "name": w.get("name"),
            "status": w.get("status"), "host": w.get("host"), "created": w.get("created"),
            "finished": w.get("finished"), "steps": steps,
            "error": (w.get("error") or {}).get("message") if w.get("error") else None}


def journal_view(w: Mapping[str, Any], steps: list[dict[str, Any]],
                 signals: list[dict[str, Any]]) -> dict[str, Any]:
    """One workflow with its journal: ``steps`` (each numbered; a timer's ``due`` in epoch
    seconds) and ``signals``."""
    out_steps = []
    for i, s in enumerate(steps):
        step = {"n": i, "op": s.get("op"), "key": s.get("key"), "result": s.get("result"),
                "error": s.get("error")}
        if s.get("op") == "timer" and s.get("result") is not None:
            try:
                step["due"] = recorded_ns(s["result"]) / 10**9
            except (TypeError, ValueError, KeyError):
                pass
        out_steps.append(step)
    return {**w, "steps": out_steps,
            "signals": [{"n": i, **sig} for i, sig in enumerate(signals)]}
