"""A multi-step agent task as a durable workflow (S8).

Plan the work (an activity), solve each task (one activity each, journaled), pause between
phases on a durable timer, then report. Every step's result is in the journal before the code
sees it: kill -9 the host that runs it, or the whole node, and the workflow resumes at the step
where it stopped; finished steps are never solved again.
"""
from __future__ import annotations

from typing import Any

from wippy import funcs, time, workflow


async def main(request: dict[str, Any]) -> dict[str, Any]:
    count = int(request.get("tasks", 6))
    difficulty = request.get("difficulty", "easy")
    started = time.now()                                   # journaled: the same on replay
    tasks = await funcs.call("app.workers:make_tasks", count, difficulty, int(request.get("seed", 7)))
    answers = []
    for i, task in enumerate(tasks):
        answer = await funcs.call("app.workers:solve", task)   # an activity: journaled result
        answers.append(answer)
        if i == count // 2:
            await time.sleep(request.get("pause", "300ms"))    # a durable timer
    return {"workflow": workflow.current().wf_id if workflow.current() else None,
            "tasks": len(answers), "kinds": sorted({a.get("kind", "?") for a in answers}),
            "started": started}
