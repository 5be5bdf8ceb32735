"""An agent: asks the coordinator for work, solves it, reports, asks again (pull model).

Two roles run this same code:

* ``fleet``: spawned (monitored) by the coordinator for one job, on the ``app:agents`` host;
  it is told the coordinator's PID and stops when told to (or at node stop).
* ``resident``: a ``process.service`` (``app.supervisors:resident_agent``) that the node starts
  at boot and restarts after a failure. It finds the coordinator by its service name, so a
  restarted resident (new PID) simply joins again and keeps serving every job.

A task marked ``poison`` makes the agent raise on its first attempt: the deliberate crash of
the demo. The coordinator notices the EXIT, re-queues the task (attempt 2 is harmless), and
for the resident the node restarts the service with backoff.

Solving is CPU-bound and blocks this OS process while it runs (processes are cooperative):
that is why agents live on a ``process.host`` with one OS process per core.

Which function solves a task is read before every task from ``app.evolve:solvers`` (a
``registry.entry``): the evolving agent (``workers/evolve/``) puts faster solvers there while
the workload runs, and the next task uses them, with no restart. That entry is data an agent
wrote, so it is checked: only function entries of ``app.evolve`` (code the agent wrote, which
runs with no more than the agent's authority) or ``app.workers`` are used; anything else, or a
solver that fails, falls back to ``app.workers:solve``.
"""
from __future__ import annotations

import os

from wippy import Channel, Event, WippyError, channel, funcs, process, registry, time

COORDINATOR = "app.supervisors:coordinator"
SOLVERS = "app.evolve:solvers"
DEFAULT_SOLVER = "app.workers:solve"
TRUSTED = ("app.evolve:", "app.workers:")       # where a solver may come from


def solver_for(kind: str) -> str:
    """The function that solves tasks of ``kind`` now (read live from the registry)."""
    try:
        fid = registry.get(SOLVERS)["data"].get(kind)
    except WippyError:
        return DEFAULT_SOLVER
    if isinstance(fid, str) and fid.startswith(TRUSTED):
        return fid
    return DEFAULT_SOLVER


async def solve(task: dict) -> dict:
    """Solve ``task`` with the current solver of its kind (the default one if that fails)."""
    solver = solver_for(task["kind"])
    try:
        result = await funcs.call(solver, task)
    except WippyError:
        if solver == DEFAULT_SOLVER:
            raise
        solver = DEFAULT_SOLVER
        result = await funcs.call(solver, task)
    return {**result, "solver": solver}


async def main(role: str = "fleet", coordinator: str = COORDINATOR) -> str:
    tasks = process.listen("task")
    events = process.events()
    me = process.pid()
    hello = {"role": role, "os_pid": os.getpid(), "job": None, "result": None}
    if role == "resident":
        found = await _find(coordinator, events)
        if found is None:
            return "cancelled"
        coordinator = found
        process.monitor(coordinator)
    process.send(coordinator, "work", hello)
    solved = 0
    while True:
        r = await channel.select(events.case_receive(), tasks.case_receive())
        if r.channel is events:
            found = await _on_event(r.value, role, coordinator, hello)
            if found is None:
                return f"cancelled after {solved} task(s)"
            coordinator = found
            continue
        msg = r.value
        if msg.get("op") == "stop":
            return f"{me}: solved {solved} task(s)"
        task = msg["task"]
        if task.get("poison") and msg.get("attempt", 1) == 1:
            raise RuntimeError(f"poisoned task #{task['id']}: deliberate crash")
        result = await solve(task)
        solved += 1
        try:
            process.send(coordinator, "work", {"role": role, "os_pid": os.getpid(), "job": msg["job"],
                                               "attempt": msg.get("attempt", 1), "result": result})
        except WippyError:
            # The coordinator is gone. A fleet agent belonged to its job: done. The resident
            # waits for the EXIT of its monitor, then joins the restarted coordinator.
            if role != "resident":
                return f"{me}: coordinator gone after {solved} task(s)"


async def _on_event(ev: Event, role: str, coordinator: str, hello: dict) -> str | None:
    """Handle a lifecycle event; the coordinator to report to, or None to stop (CANCEL)."""
    if ev.kind == process.event.CANCEL:
        return None
    if ev.kind == process.event.EXIT and role == "resident" and ev.from_ == coordinator:
        # the coordinator was restarted (new PID): join the new one
        found = await _find(COORDINATOR, process.events())
        if found is None:
            return None
        process.monitor(found)
        process.send(found, "work", hello)
        return found
    return coordinator


async def _find(name: str, events: Channel) -> str | None:
    """The coordinator's current PID, waiting (and watching for CANCEL) until it is registered."""
    while True:
        pid = process.registry.lookup(name)
        if pid is not None:
            return pid
        r = await channel.select(events.case_receive(), time.after("50ms").case_receive())
        if r.channel is events and r.value.kind == process.event.CANCEL:
            return None
