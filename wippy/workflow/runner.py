"""Running a workflow entry under replay: what a spawn of a ``workflow.py`` or ``workflow.lua``
entry actually runs (the host's table of runners wraps the language's own runner in
:func:`replayed`).

The node starts (and restarts) a workflow by spawning its entry with the workflow id as the one
argument. The process then loads the journal from the node, takes the workflow's stable PID,
gets the signals journaled so far delivered to its inbox, and runs the code with a
:class:`~.context.WorkflowContext` attached, so recorded steps replay and new ones are
journaled. Its end (result or error) is reported to the node, which records it and tells the
monitors; the process itself then exits normally.
"""
from __future__ import annotations

from typing import Any, Callable

from ..errors import NondeterminismError, to_wire
from ..runtime import table as _rt
from ..runtime.codeload import Runner
from .context import WorkflowContext

__all__ = ["replayed"]


def replayed(load: Runner) -> Runner:
    """The runner of a workflow kind: ``load``'s callable (the workflow's main, which takes the
    workflow's input) run under replay."""
    def runner(entry: dict[str, Any]) -> Callable[..., Any]:
        return _workflow_main(load(entry))
    return runner


def _workflow_main(main: Callable[..., Any]) -> Callable[..., Any]:
    async def run_workflow(wf_id: str) -> None:
        rt = _rt.get()
        proc = rt.current()
        state = await rt.ctl_request("wf_load", wf_id)
        wf = WorkflowContext(wf_id, state["steps"], rt.ctl_request,
                             lambda coro: rt.start_task(proc, coro))
        proc.workflow = wf
        rt.adopt_pid(proc, state["pid"])
        for sig in state["signals"]:
            proc.deliver(sig["topic"], sig.get("from"), sig.get("payload"))
        try:
            value = main(state["input"])
            if hasattr(value, "__await__"):
                value = await value
        except NondeterminismError:
            raise                       # the process fails; the node fails the workflow
        except Exception as exc:  # noqa: BLE001 - the workflow's own failure is its result
            await wf.commit()
            await rt.ctl_request("wf_done", wf_id, None, to_wire(exc))
            return None
        await wf.commit()
        await rt.ctl_request("wf_done", wf_id, value, None)
        return None
    return run_workflow
