"""`wippy run . -x app:research [TASKS] [NAME]`: run the durable research workflow and print its
report. With a NAME the start is idempotent: run it again after killing the node mid-way and
the same workflow resumes (finished steps are not solved again)."""
from __future__ import annotations

import json

from wippy import process, workflow


async def main(tasks: str = "6", name: str = "") -> str:
    pid = await workflow.start("app.workers:research", {"tasks": int(tasks)}, name or None)
    print(f"research workflow {pid} started" + (f" (name {name})" if name else ""), flush=True)
    process.monitor(pid)
    ev = await process.events().receive()
    if ev.result.error is not None:
        raise ev.result.error
    return "research done: " + json.dumps(ev.result.value, sort_keys=True)
