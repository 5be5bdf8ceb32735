"""The self-improving agent, one shot: ``python -m wippy run . -x app:evolve [ROUNDS] [TASKS]``.

Runs on the terminal host, as the operator. It times a job of TASKS 8-puzzle tasks (default
16, difficulty normal) on the coordinator's fleet, asks the evolving agent
(``app.supervisors:evolve``, under its own actor and policies) for ROUNDS rounds (default
``app:evolve_settings``), prints the agent's report as it comes, times the same job again
(the agents now read the adopted solver from the registry, with no restart) and returns the
comparison. ``wippy registry history`` then tells the story version by version.
"""
from __future__ import annotations

from typing import Any

from wippy import Channel, channel, process, time

COORDINATOR = "app.supervisors:coordinator"
EVOLVE = "app.supervisors:evolve"


async def main(*args: str) -> str:
    words = [w for w in args if w]
    if any(not w.isdigit() or int(w) <= 0 for w in words) or len(words) > 2:
        raise ValueError(f"usage: -x app:evolve [ROUNDS] [TASKS]; got {' '.join(words)!r}")
    rounds = int(words[0]) if words else None
    tasks = int(words[1]) if len(words) > 1 else 16
    events = process.events()
    coordinator = await _find(COORDINATOR, events)
    evolve = await _find(EVOLVE, events)
    if coordinator is None or evolve is None:
        return "evolve demo cancelled"
    before = await _job(coordinator, tasks, events)
    print(f"evolve: before: {tasks} puzzle tasks in {before['wall_s']:.2f} s "
          f"({_solvers(before)})", flush=True)
    request: dict[str, Any] = {"reply_to": process.pid()}
    if rounds is not None:
        request["rounds"] = rounds
    process.send(evolve, "run", request)
    inbox = process.inbox()
    report: dict[str, Any] = {}
    while True:
        r = await channel.select(inbox.case_receive(), events.case_receive())
        if r.channel is events:
            if r.value.kind == process.event.CANCEL:
                return "evolve demo cancelled"
            continue
        if r.value.topic == "progress":
            print(r.value.payload, flush=True)
        elif r.value.topic == "report":
            report = r.value.payload or {}
            break
    if report.get("error"):
        raise RuntimeError(f"the evolving agent failed: {report['error']}")
    after = await _job(coordinator, tasks, events)
    speedup = before["wall_s"] / after["wall_s"] if after["wall_s"] > 0 else 0.0
    refused = sum(1 for r in report.get("refusals", []) if r["refused"].startswith("PERMISSION_DENIED"))
    return "\n".join([
        f"evolve: after: the same {tasks} puzzle tasks in {after['wall_s']:.2f} s "
        f"({_solvers(after)}): {speedup:.2f}x, with no restart",
        f"evolve: {report.get('tried', 0)} candidates tried, {report.get('rejected', 0)} rejected, "
        f"{len(report.get('adoptions', []))} adopted, {len(report.get('rollbacks', []))} rolled back; "
        f"{refused}/{len(report.get('refusals', []))} attempts outside its policy refused",
        "evolve: `python -m wippy registry history` shows every version and its author",
    ])


def _solvers(summary: dict[str, Any]) -> str:
    used = summary.get("puzzle_solvers") or {}
    return ", ".join(f"{s}: {v['tasks']} tasks, avg {v['avg_ms']:.0f} ms CPU"
                     for s, v in sorted(used.items())) or "no puzzle task"


async def _job(coordinator: str, tasks: int, events: Channel) -> dict[str, Any]:
    """Run a job of ``tasks`` puzzle tasks on the coordinator's fleet; its summary."""
    process.send(coordinator, "job", {"tasks": tasks, "difficulty": "normal", "seed": 5,
                                      "kinds": ["puzzle"], "poison_task": -1,
                                      "reply_to": process.pid()})
    inbox = process.inbox()
    while True:
        r = await channel.select(inbox.case_receive(), events.case_receive())
        if r.channel is events:
            if r.value.kind == process.event.CANCEL:
                raise RuntimeError("cancelled")
            continue
        if r.value.topic == "summary":
            return r.value.payload


async def _find(name: str, events: Channel) -> str | None:
    """The PID registered as ``name``, waiting up to 10 s (a service may still be starting)."""
    for _ in range(200):
        pid = process.registry.lookup(name)
        if pid is not None:
            return pid
        r = await channel.select(events.case_receive(), time.after("50ms").case_receive())
        if r.channel is events and r.value.kind == process.event.CANCEL:
            return None
    raise RuntimeError(f"no process registered as {name} after 10 s")
