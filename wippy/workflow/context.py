"""The replay context of one running workflow: applies :mod:`replay`'s decisions, and sends
the steps it records to the node, the journal's single writer.

It implements :class:`wippy.runtime.durable.Durable`, the only face the API modules see. What
it needs from the outside comes in as arguments, so a test drives it with fakes: ``request``
(a node request: ``wf_steps`` carries new steps, and returns once they are durable), ``spawn``
(start a coroutine as another task of the workflow's process) and ``clock`` (nanoseconds).

When a step becomes durable: a step with an effect outside the workflow (an activity, a child
workflow, a timer's due time) is committed before the code sees its result; a value made here
(``now``, ``uuid``, ``random``, ``version``) waits in ``pending`` and goes with the next commit,
which always happens before the next effect.
"""
from __future__ import annotations

import random as _random
import time as _stdtime
from typing import Any, Awaitable, Callable, Coroutine

from ..errors import WippyError, to_wire
from .replay import Op, Verdict, check_version, decide, outcome, record, recorded_ns

__all__ = ["WorkflowContext"]

Request = Callable[..., Awaitable[Any]]
Spawn = Callable[[Coroutine[Any, Any, Any]], Any]


class WorkflowContext:
    """Replay state of one running workflow (``Process.workflow`` of the process running it)."""

    def __init__(self, wf_id: str, steps: list[dict[str, Any]], request: Request, spawn: Spawn,
                 clock: Callable[[], int] = _stdtime.time_ns) -> None:
        self.wf_id = wf_id
        self.steps = steps                  # the journal so far; new steps are appended
        self.seq = 0                        # the next step the code will ask for
        self.pending: list[tuple[int, dict[str, Any]]] = []   # recorded, not yet committed
        self.activity_key: str | None = None
        self.in_activity = False
        self._request = request
        self._spawn = spawn
        self._clock = clock

    # -- applying the decision -----------------------------------------------------------
    def _decide(self, op: Op, key: Any) -> Verdict:
        return decide(self.wf_id, self.steps, self.seq, op, key)

    def _recorded(self) -> dict[str, Any]:
        rec = self.steps[self.seq]
        self.seq += 1
        return rec

    def _append(self, rec: dict[str, Any]) -> None:
        self.steps.append(rec)
        self.seq += 1

    def _value(self, op: Op, key: Any, make: Callable[[], Any]) -> Any:
        """A step whose value is made here: journaled with the next commit."""
        if self._decide(op, key) is Verdict.REPLAY:
            return self._recorded()["result"]
        value = make()
        rec = record(op, key, value)
        self.pending.append((self.seq, rec))
        self._append(rec)
        return value

    async def commit(self, extra: tuple[int, dict[str, Any]] | None = None) -> None:
        """Send the pending steps (and ``extra``) to the node; returns once they are durable."""
        batch = self.pending
        if extra is not None:
            batch.append(extra)
        self.pending = []
        if batch:
            await self._request("wf_steps", self.wf_id, batch)

    async def _effect(self, op: Op, key: Any, run: Callable[[int], Awaitable[Any]],
                      caught: type[BaseException]) -> Any:
        """A step with an effect outside the workflow: on replay the recorded result (or
        error) comes back and ``run`` does not run; else ``await run(i)`` (``i``: this step's
        index, stable across replays) and its result, or a ``caught`` error, is journaled
        before the code sees it."""
        if self._decide(op, key) is Verdict.REPLAY:
            return outcome(self._recorded())
        await self.commit()                     # earlier now()/uuid() before any effect
        i = self.seq
        try:
            result, error = await run(i), None
        except caught as exc:
            result, error = None, to_wire(exc)
        rec = record(op, key, result, error)
        await self.commit((i, rec))
        self._append(rec)
        return outcome(rec)

    # -- the steps (wippy.runtime.durable.Durable) ---------------------------------------
    def now(self) -> int:
        return recorded_ns(self._value(Op.NOW, None, self._clock))

    def uuid(self, make: Callable[[], str]) -> str:
        return self._value(Op.UUID, None, make)

    def random(self) -> float:
        return self._value(Op.RANDOM, None, _random.random)

    def version(self, change_id: str, min_version: int, max_version: int) -> int:
        got = self._value(Op.VERSION, change_id, lambda: max_version)
        return check_version(change_id, got, min_version)

    async def timer(self, ns: int) -> int:
        if self._decide(Op.TIMER, ns) is Verdict.REPLAY:
            return recorded_ns(self._recorded()["result"])
        due = self._clock() + ns
        rec = record(Op.TIMER, ns, due)
        await self.commit((self.seq, rec))      # the due time is durable before the wait
        self._append(rec)
        return due

    def after(self, ns: int) -> int:
        verdict = self._decide(Op.AFTER, ns)
        if verdict is Verdict.REPLAY:
            return recorded_ns(self._recorded()["result"])
        due = self._clock() + ns
        if verdict is Verdict.RECORD:
            rec = record(Op.AFTER, ns, due)
            self.pending.append((self.seq, rec))
            self._append(rec)
            self._spawn(self.commit())          # durable now, not at the next step
        return due

    async def activity(self, func_id: str, run: Callable[[], Awaitable[Any]]) -> Any:
        async def call(i: int) -> Any:
            self.activity_key = f"{self.wf_id}:{i}"
            self.in_activity = True
            try:
                return await run()
            finally:
                self.in_activity = False
                self.activity_key = None
        # an activity's error is its recorded result, whatever it is
        return await self._effect(Op.CALL, func_id, call, Exception)

    async def child(self, entry_id: str, name: str | None,
                    start: Callable[[str], Awaitable[str]]) -> str:
        # unnamed, the child is named after this step, so that a start interrupted before its
        # step was journaled finds the same child when it runs again
        key = entry_id if name is None else f"{entry_id} {name}"
        return await self._effect(
            Op.CHILD, key, lambda i: start(name if name is not None else f"{self.wf_id}:{i}"),
            WippyError)
