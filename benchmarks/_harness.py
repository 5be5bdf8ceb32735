"""Process plumbing shared by every benchmark family.

* :func:`fork_call` forks a child that runs one function and sends its return value
  back over a pipe; :meth:`Child.result` reads it and reaps the child. Children set
  ``PR_SET_PDEATHSIG`` and always leave through ``os._exit`` (S2's fork rules).
* :func:`run_isolated` runs one :class:`Unit` in its own forked *case runner*, with a
  deadline, so that a hanging or crashing system (or Ray's threads, or a zmq context)
  never reaches the harness process or the next unit.
* :class:`Ctx` is what a unit sees: parameters (quick or full), the pinning mode, and
  ``place()`` which pins an OS process (``os.sched_setaffinity``) when asked to and always
  records its cpu affinity list for the report.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import faulthandler
import os
import pickle
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

from ._report import FLOOR_SYSTEM, Result, status_result

__all__ = [
    "Child",
    "Gate",
    "NoiseMeter",
    "short_tmpdir",
    "ChildError",
    "Ctx",
    "Params",
    "PIN_MODES",
    "MESSAGING_CASES",
    "Unit",
    "fork_call",
    "kill_tree",
    "reap_orphans",
    "run_isolated",
    "run_root",
    "select_units",
    "set_subreaper",
]

PIN_MODES = ("none", "spread", "same", "both")
#: Cases whose figures depend on where the two ends run: ``--pin both`` runs them unpinned and
#: again pinned (``spread``), the pinned figures under ``<metric>_pinned`` (S11).
MESSAGING_CASES = ("roundtrip", "oneway", "inproc", "bigmsg")

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_libc: ctypes.CDLL | None = None


def _prctl(option: int, arg: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    _libc.prctl(option, arg, 0, 0, 0)


def set_subreaper() -> None:
    """Make orphaned descendants re-parent to this process so they can be found and reaped."""
    with contextlib.suppress(OSError, AttributeError):
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Params:
    """Sizes of every case. :meth:`quick` keeps a whole run short; :meth:`full` is for numbers."""

    rt_rounds: int
    rt_warmup: int
    ow_msgs: int
    ow_warmup: int
    inproc_msgs: int
    spawn_count: int
    mem_procs: int
    restart_rounds: int
    cpu_tasks: int
    cpu_n: int
    ray_rt_rounds: int
    ray_calls: int
    ray_restart_rounds: int

    @classmethod
    def quick(cls) -> Params:
        """Small sizes: every family in well under a minute on 2 cores."""
        cores = os.cpu_count() or 1
        return cls(rt_rounds=2_000, rt_warmup=200, ow_msgs=50_000, ow_warmup=2_000,
                   inproc_msgs=50_000, spawn_count=5_000, mem_procs=10_000,
                   restart_rounds=20, cpu_tasks=4 * cores, cpu_n=11,
                   ray_rt_rounds=300, ray_calls=2_000, ray_restart_rounds=3)

    @classmethod
    def full(cls) -> Params:
        """Sizes for numbers worth quoting."""
        cores = os.cpu_count() or 1
        return cls(rt_rounds=20_000, rt_warmup=2_000, ow_msgs=500_000, ow_warmup=10_000,
                   inproc_msgs=500_000, spawn_count=50_000, mem_procs=10_000,
                   restart_rounds=100, cpu_tasks=16 * cores, cpu_n=11,
                   ray_rt_rounds=3_000, ray_calls=4_000, ray_restart_rounds=10)


# --------------------------------------------------------------------------- context


@dataclass
class Ctx:
    """What a running unit sees and fills in.

    Attributes:
        quick: quick mode (small sizes).
        pin: ``none`` (leave placement to the kernel), ``spread`` (slot i -> the i-th
            allowed cpu, round-robin) or ``same`` (every placed process on the first cpu).
        params: the case sizes.
        cpus: the cpus this harness may use (its own affinity at start).
        results: filled by the unit through :meth:`add`.
        placement: filled through :meth:`place` / :meth:`record_tree`.
    """

    quick: bool
    pin: str
    params: Params
    cpus: list[int]
    results: list[Result] = field(default_factory=list)
    placement: list[dict[str, Any]] = field(default_factory=list)

    def cpu_for(self, slot: int) -> int | None:
        """The cpu that slot ``slot`` is pinned to, or None when not pinning."""
        if self.pin == "none" or not self.cpus:
            return None
        if self.pin == "same":
            return self.cpus[0]
        return self.cpus[slot % len(self.cpus)]

    def place(self, pid: int, role: str, slot: int | None = None) -> None:
        """Pin OS process ``pid`` to the cpu of ``slot`` (when pinning) and record its affinity.

        ``slot=None`` never pins (the process is only recorded).
        """
        pinned = False
        cpu = self.cpu_for(slot) if slot is not None else None
        if cpu is not None:
            try:
                os.sched_setaffinity(pid, {cpu})
                pinned = True
            except OSError:
                pass
        try:
            cpus = sorted(os.sched_getaffinity(pid))
        except OSError:
            cpus = []
        self.placement.append({"role": role, "pid": pid, "cpus": cpus, "pinned": pinned})

    def record_tree(self, root_pid: int, label: str, *, pin_all: bool = False) -> None:
        """Record (and with ``pin_all``, pin round-robin) every live descendant of ``root_pid``."""
        try:
            procs = psutil.Process(root_pid).children(recursive=True)
        except psutil.Error:
            return
        for i, p in enumerate(procs):
            try:
                name = p.name()
            except psutil.Error:
                continue
            self.place(p.pid, f"{label}:{name}", slot=i if pin_all else None)

    def add(self, case: str, system: str, metric: str, value: float, unit: str,
            **extra: Any) -> None:
        """Record one measured value."""
        self.results.append(Result(case=case, system=system, metric=metric,
                                   value=float(value), unit=unit, extra=dict(extra)))

    def add_status(self, case: str, system: str, status: str, **extra: Any) -> None:
        """Record a case that produced no number (skipped, error, not implemented)."""
        self.results.append(status_result(case, system, status, **extra))

    @contextlib.contextmanager
    def attempt(self, case: str, system: str) -> Iterator[None]:
        """Run a block; an exception becomes an ``error: ...`` result instead of a crash."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - a benchmark reports, never crashes the run
            self.add_status(case, system, f"error: {type(exc).__name__}: {exc}",
                            traceback=traceback.format_exc(limit=6))


# --------------------------------------------------------------------------- children


class ChildError(RuntimeError):
    """A forked child raised; the message carries its traceback."""


def _set_pdeathsig() -> None:
    with contextlib.suppress(OSError, AttributeError):
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


@dataclass
class Child:
    """A forked child running one function; :meth:`result` returns its value and reaps it."""

    pid: int
    role: str
    _rfd: int
    _reaped: bool = False
    exit_status: int | None = None

    def result(self, timeout: float) -> Any:
        """Wait for the child's return value (at most ``timeout`` s), reap it, return the value.

        Raises:
            TimeoutError: no value in time (the child is killed and reaped).
            ChildError: the child raised or died without a value.
        """
        deadline = time.monotonic() + timeout
        chunks: list[bytes] = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    dump_stacks(self.pid)
                    self.kill()
                    raise TimeoutError(
                        f"{self.role} (pid {self.pid}) gave no result in {timeout:.0f}s")
                ready, _, _ = select.select([self._rfd], [], [], left)
                if not ready:
                    continue
                chunk = os.read(self._rfd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            with contextlib.suppress(OSError):
                os.close(self._rfd)
            self._rfd = -1
        self.wait(timeout=max(1.0, deadline - time.monotonic()))
        if not chunks:
            raise ChildError(f"{self.role} (pid {self.pid}) died without a result "
                             f"(wait status {self.exit_status})")
        kind, value = pickle.loads(b"".join(chunks))
        if kind != "ok":
            raise ChildError(f"{self.role} (pid {self.pid}) failed: {value}")
        return value

    def wait(self, timeout: float = 5.0) -> int:
        """Reap the child, killing it if it has not exited within ``timeout`` s."""
        if self._reaped:
            return self.exit_status or 0
        deadline = time.monotonic() + timeout
        while True:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self._reaped = True
                return self.exit_status or 0
            if pid:
                self._reaped = True
                self.exit_status = status
                return status
            if time.monotonic() > deadline:
                kill_tree(self.pid)
                deadline = time.monotonic() + 5.0
            time.sleep(0.001)

    def kill(self) -> None:
        """SIGKILL the child and everything below it, then reap it."""
        if not self._reaped:
            kill_tree(self.pid)
            self.wait(timeout=5.0)
        if self._rfd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._rfd)
            self._rfd = -1


def fork_call(fn: Callable[..., Any], *args: Any, role: str = "child") -> Child:
    """Fork a child that runs ``fn(*args)`` and sends back its (picklable) return value.

    The child sets ``PR_SET_PDEATHSIG`` (it dies with its parent), never returns into the
    caller's stack and leaves through ``os._exit``. The caller must create no zmq context,
    thread or event loop that the child would inherit and use.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.close(rfd)
            _set_pdeathsig()
            # On a timeout the parent sends SIGUSR1 first: the child prints where it hangs.
            faulthandler.register(signal.SIGUSR1, all_threads=True)
            try:
                payload = pickle.dumps(("ok", fn(*args)), protocol=5)
                code = 0
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}\n"
                                                  + traceback.format_exc(limit=8)))
            _write_all(wfd, payload)
        except BaseException:  # noqa: BLE001
            pass
        finally:
            os._exit(code)
    os.close(wfd)
    return Child(pid=pid, role=role, _rfd=rfd)


def dump_stacks(pid: int) -> None:
    """Ask ``pid`` and its descendants to print their Python stacks (SIGUSR1, see fork_call)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    print(f"--- stacks of {len(procs)} processes under {pid} (timeout) ---", file=sys.stderr,
          flush=True)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.send_signal(signal.SIGUSR1)
    time.sleep(0.5)


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and all its descendants (children first collected, then killed)."""
    try:
        root = psutil.Process(pid)
        procs = root.children(recursive=True) + [root]
    except psutil.Error:
        return
    for p in reversed(procs):
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(procs, timeout=5)


def reap_orphans() -> list[dict[str, Any]]:
    """Kill and reap every remaining child of this process; return the live ones found.

    With :func:`set_subreaper` in force, grandchildren orphaned by a unit (a Ray daemon, a
    wippy host whose node died) become our children and are caught here. Children that are
    already zombies (they died with their parent and were re-parented to us) are reaped
    without being reported.
    """
    found: list[dict[str, Any]] = []
    for p in psutil.Process().children():
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue  # already dead (e.g. a grandchild that died with its parent): reap below
            info = {"pid": p.pid, "name": p.name(), "cmdline": " ".join(p.cmdline())[:200]}
        except psutil.Error:
            continue  # gone meanwhile
        found.append(info)
        kill_tree(p.pid)
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
    return found


# --------------------------------------------------------------------------- noise


class NoiseMeter:
    """How much CPU *other* programs used while a unit ran (a shared VM is noisy).

    foreign CPU = whole-machine busy CPU time - CPU time of this harness and its reaped
    descendants (``os.times()``; the case runner waits for its children, so their time is
    included once the unit is over). Reported as a share of ``wall x cores``.
    """

    def __init__(self) -> None:
        self._busy0 = self._machine_busy()
        self._own0 = self._own()
        self._t0 = time.monotonic()
        self._load0 = os.getloadavg()[0]

    @staticmethod
    def _machine_busy() -> float:
        t = psutil.cpu_times()
        # guest time is already inside user time; steal is the hypervisor's, not a program's
        return sum(getattr(t, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq"))

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def finish(self) -> dict[str, float]:
        """Figures since construction: ``foreign_cpu_s``, ``foreign_share``, load averages."""
        wall = max(time.monotonic() - self._t0, 1e-9)
        foreign = max(0.0, (self._machine_busy() - self._busy0) - (self._own() - self._own0))
        cores = psutil.cpu_count() or 1
        return {"foreign_cpu_s": round(foreign, 3),
                "foreign_share": round(foreign / (wall * cores), 3),
                "loadavg1_before": round(self._load0, 2),
                "loadavg1_after": round(os.getloadavg()[0], 2)}


# --------------------------------------------------------------------------- units


@dataclass(frozen=True)
class Unit:
    """A group of measurements that runs in one isolated case runner.

    Attributes:
        name: ``family.what`` (unique).
        family: ``floor``, ``mp``, ``inproc``, ``ray`` or ``wippy``.
        cases: the cases it can measure.
        systems: the system names it reports (used to find a case's floor unit).
        run: ``run(ctx, cases)`` measures the given subset of ``cases`` into ``ctx``.
        timeout_quick / timeout_full: deadline for the whole unit, seconds.
    """

    name: str
    family: str
    cases: tuple[str, ...]
    systems: tuple[str, ...]
    run: Callable[[Ctx, tuple[str, ...]], None]
    timeout_quick: float = 60.0
    timeout_full: float = 600.0


def select_units(units: Sequence[Unit], only: Sequence[str] | None,
                 *, with_floors: bool = True) -> list[tuple[Unit, tuple[str, ...]]]:
    """Resolve ``--only`` tokens to ``(unit, cases)`` pairs, in the order of ``units``.

    A token is a family (``floor``, ``mp``, ``ray``, ``wippy``, ...), a unit name, a case
    (``roundtrip``), or ``case/family`` (``roundtrip/wippy``). With ``with_floors`` the
    floor unit of every selected case is added, so ratios can always be computed.

    Raises:
        ValueError: a token matches nothing.
    """
    chosen: dict[str, set[str]] = {}
    if not only:
        for u in units:
            chosen[u.name] = set(u.cases)
    else:
        for token in only:
            hit = False
            case_part, _, fam_part = token.partition("/")
            for u in units:
                if token in (u.family, u.name):
                    chosen.setdefault(u.name, set()).update(u.cases)
                    hit = True
                elif fam_part and fam_part == u.family and case_part in u.cases:
                    chosen.setdefault(u.name, set()).add(case_part)
                    hit = True
                elif not fam_part and token in u.cases:
                    chosen.setdefault(u.name, set()).add(token)
                    hit = True
            if not hit:
                raise ValueError(f"--only {token!r} matches no family, unit or case")
    if with_floors:
        wanted = {c for cs in chosen.values() for c in cs}
        for u in units:
            for case in u.cases:
                if case in wanted and FLOOR_SYSTEM.get(case) in u.systems:
                    chosen.setdefault(u.name, set()).add(case)
    return [(u, tuple(c for c in u.cases if c in chosen[u.name]))
            for u in units if u.name in chosen]


def _unit_main(unit: Unit, ctx: Ctx, cases: tuple[str, ...]) -> dict[str, Any]:
    ctx.place(os.getpid(), "case runner")
    unit.run(ctx, cases)
    return {"results": [r.to_dict() for r in ctx.results], "placement": ctx.placement}


def run_isolated(unit: Unit, cases: tuple[str, ...], ctx: Ctx) -> dict[str, Any]:
    """Run ``unit`` for ``cases`` in a forked case runner; never raises.

    Returns a dict with ``name``, ``family``, ``cases``, ``pin``, ``wall_s``, ``status``,
    ``placement`` and ``results`` (a list of :class:`Result`; on failure, one error row per
    case).
    """
    timeout = unit.timeout_quick if ctx.quick else unit.timeout_full
    t0 = time.perf_counter()
    status = "ok"
    results: list[Result] = []
    placement: list[dict[str, Any]] = []
    child = fork_call(_unit_main, unit, ctx, cases, role=f"case runner {unit.name}")
    try:
        out = child.result(timeout=timeout)
        results = [Result.from_dict(d) for d in out["results"]]
        placement = out["placement"]
    except (TimeoutError, ChildError) as exc:
        status = f"error: {exc}".splitlines()[0][:300]
        system = unit.systems[0] if unit.systems else unit.family
        results = [status_result(c, system, status) for c in cases]
    finally:
        child.kill()
    return {
        "name": unit.name,
        "family": unit.family,
        "cases": list(cases),
        "pin": ctx.pin,
        "wall_s": round(time.perf_counter() - t0, 3),
        "status": status,
        "placement": placement,
        "results": results,
    }


class Gate:
    """A start barrier for forked children: each :meth:`wait` consumes one :meth:`open` token.

    Create it before forking; the parent pins and records the children, then opens the gate
    so that no measurement starts before placement is in force.
    """

    def __init__(self) -> None:
        self._r, self._w = os.pipe()

    def wait(self) -> None:
        """Block (in a child) until the parent opens the gate."""
        os.read(self._r, 1)

    def open(self, n: int) -> None:
        """Let ``n`` waiting children through, then drop the parent's descriptors."""
        _write_all(self._w, b"g" * n)
        self.close()

    def close(self) -> None:
        """Close both ends in this process (idempotent)."""
        for fd in (self._r, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._r = self._w = -1


_RUN_ROOT: str | None = None


@contextlib.contextmanager
def run_root() -> Iterator[str]:
    """A private /tmp directory for one harness run, removed at the end.

    :func:`short_tmpdir` creates its directories inside it, so what a killed case runner
    could not clean up is removed here.
    """
    import shutil
    import tempfile

    global _RUN_ROOT
    root = tempfile.mkdtemp(prefix="wb-", dir="/tmp")
    _RUN_ROOT = root
    try:
        yield root
    finally:
        _RUN_ROOT = None
        shutil.rmtree(root, ignore_errors=True)


def short_tmpdir(prefix: str = "u-") -> str:
    """A private directory with a short path (ipc paths must stay < 107 chars).

    Inside the current :func:`run_root` when there is one, else directly under /tmp.
    """
    import tempfile

    return tempfile.mkdtemp(prefix=prefix if _RUN_ROOT else "wb-" + prefix,
                            dir=_RUN_ROOT or "/tmp")
