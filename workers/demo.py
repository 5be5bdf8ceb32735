"""One-shot run of the default workload: ``python -m wippy run . -x app:demo [TASKS] [DIFFICULTY]``.

Runs on the terminal host. It asks the coordinator service for a job (topic ``job``), prints
the progress lines the coordinator sends back, and returns the summary text, which wippy
prints before it exits 0. TASKS and DIFFICULTY default to ``app:settings``. With a last
argument ``json`` the result is the summary as one JSON object instead (for scripts).
"""
from __future__ import annotations

import json

from wippy import Channel, channel, process, registry, time

COORDINATOR = "app.supervisors:coordinator"
DIFFICULTIES = ("easy", "normal", "hard")


async def main(*args: str) -> str:
    words = list(args)
    as_json = bool(words) and words[-1] == "json"
    if as_json:
        words.pop()
    cfg = registry.get("app:settings")["data"]
    request: dict = {"reply_to": process.pid()}
    for w in words:
        if w.isdigit() and int(w) > 0:
            request["tasks"] = int(w)
        elif w in DIFFICULTIES:
            request["difficulty"] = w
        else:
            raise ValueError(f"usage: -x app:demo [TASKS] [{'|'.join(DIFFICULTIES)}] [json]; got {w!r}")
    events = process.events()
    inbox = process.inbox()
    coordinator = await _find(COORDINATOR, events)
    if coordinator is None:
        return "cancelled"
    process.monitor(coordinator)
    print(f"demo {process.pid()}: asking the coordinator {coordinator} for "
          f"{request.get('tasks', cfg.get('tasks'))} tasks "
          f"({request.get('difficulty', cfg.get('difficulty'))})", flush=True)
    process.send(coordinator, "job", request)
    while True:
        # the inbox first: progress lines sent before the coordinator stopped come before its EXIT
        r = await channel.select(inbox.case_receive(), events.case_receive())
        if r.channel is events:
            ev = r.value
            if ev.kind == process.event.CANCEL:
                return "demo cancelled"
            if ev.kind == process.event.EXIT and ev.from_ == coordinator:
                error = ev.result.error if ev.result is not None else None
                if error is None:       # it stopped normally: the node is stopping
                    return "demo stopped: the coordinator stopped before the job was done"
                raise RuntimeError(f"the coordinator failed before the job was done: {error}")
            continue
        msg = r.value
        if msg.topic == "progress":
            print(msg.payload, flush=True)
        elif msg.topic == "summary":
            summary = msg.payload
            if as_json:
                return json.dumps({k: v for k, v in summary.items() if k != "text"})
            return summary["text"]

async def _find(name: str, events: Channel) -> str | None:
    """The PID registered as ``name``, waiting up to 10 s (a service may still be starting)."""
    for _ in range(200):
        pid = process.registry.lookup(name)
        if pid is not None:
            return pid
        r = await channel.select(events.case_receive(), time.after("50ms").case_receive())
        if r.channel is events and r.value.kind == process.event.CANCEL:
            return None
    raise RuntimeError(f"no process registered as {name} after 10 s (is the node's application "
                       "the default one?)")
