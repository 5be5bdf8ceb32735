"""Fanning work out from a program (S7): futures for processes started through a connection,
and shipping functions whose module the hosts cannot import.

``node.submit(fn_or_entry, *args)`` starts the work and returns a :class:`Future` at once;
``future.result(timeout)`` waits for it; ``node.map(fn_or_entry, items)`` and
``node.gather(futures)`` wait for many (Ray's ``remote`` + ``get``, concurrent.futures'
``submit`` + ``result``). A future is a monitored process: its result is the EXIT's value, its
error the EXIT's error; the connection's pump (which runs only while a call waits) completes
them all.

A function is shipped with cloudpickle, by reference to its module where the hosts can import
it and by value otherwise: a module defined in the program's own files (beside the script, or
anywhere outside the Python installation and the application) would fail on the host with a
bare ``ModuleNotFoundError``, so :func:`dumps_function` pickles such modules' code by value
(``cloudpickle.register_pickle_by_value``). A host that still cannot import a module (a package
installed only where the program runs) ends the process with an error that says how to fix it.
"""
from __future__ import annotations

import os
import sys
import sysconfig
import types
from typing import Any, Callable, Iterable, Mapping, Protocol

from ..core.protocol import MONITOR
from ..errors import NodeError, ProcessFailed, Timeout

__all__ = ["Future", "gather", "submit", "map_work", "work_host", "fn_name", "dumps_function",
           "local_modules", "import_hint"]


class _Waiter(Protocol):
    def _poll_exit(self, pid: str) -> tuple[Any, Any] | None: ...

    def wait_exit(self, pid: str, timeout: float | None = None) -> Any: ...

    def _pump(self, timeout: float) -> None: ...

    def terminate(self, pid: str) -> None: ...


class Future:
    """The result, to come, of a process started by ``submit`` (or ``map``)."""

    __slots__ = ("pid", "_conn", "_done", "_value", "_error")

    def __init__(self, conn: _Waiter, pid: str) -> None:
        self.pid = pid
        self._conn = conn
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None

    def done(self) -> bool:
        """True once the process has ended (handles what has arrived; never blocks)."""
        if not self._done:
            self._conn._pump(0)
            got = self._conn._poll_exit(self.pid)
            if got is not None:
                self._settle(*got)
        return self._done

    def result(self, timeout: float | None = None) -> Any:
        """The process's result; blocks up to ``timeout`` seconds (None: until it ends).
        Raises its error (:class:`wippy.ProcessFailed`...) or :class:`wippy.Timeout`."""
        if not self._done:
            try:
                value = self._conn.wait_exit(self.pid, timeout)
            except Timeout:
                raise
            except BaseException as exc:  # noqa: BLE001 - the process's error, kept for later calls
                self._done, self._error = True, _with_hint(exc)
            else:
                self._done, self._value = True, value
        if self._error is not None:
            raise self._error
        return self._value

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The process's error, or None when it returned; blocks as :meth:`result` does."""
        try:
            self.result(timeout)
        except Timeout:
            raise
        except BaseException as exc:  # noqa: BLE001
            return exc
        return None

    def cancel(self) -> None:
        """Terminate the process (its result is then an error)."""
        if not self.done():
            self._conn.terminate(self.pid)

    def _settle(self, value: Any, error: Any) -> None:
        from ..errors import exit_error
        self._done = True
        if error is not None:
            self._error = _with_hint(exit_error(error))
        else:
            self._value = value

    def __repr__(self) -> str:
        state = "pending" if not self._done else ("failed" if self._error else "done")
        return f"<Future {self.pid} {state}>"


def gather(futures: Iterable[Future], timeout: float | None = None) -> list[Any]:
    """Every future's result, in order; raises the first error met (in order) or
    :class:`wippy.Timeout` when ``timeout`` seconds pass (for all of them together)."""
    import time as _time
    deadline = None if timeout is None else _time.monotonic() + timeout
    out = []
    for f in futures:
        left = None if deadline is None else max(0.0, deadline - _time.monotonic())
        out.append(f.result(left))
    return out


# -- shipping functions -------------------------------------------------------------------
class _Starter(_Waiter, Protocol):
    def spawn(self, id: str, host: str, *args: Any, monitor: bool = False) -> str: ...

    def spawn_function(self, fn: Callable[..., Any], host: str, *args: Any,
                       monitor: bool = False) -> str: ...

    def _spawn(self, id: str, host: str, args: tuple, flags: int, code: bytes | None) -> str: ...

    def _dumps(self, fn: Callable[..., Any]) -> bytes: ...


def work_host(topology: Mapping[str, Any]) -> str:
    """Where ``submit`` runs work by default: the host with the most running OS processes
    (ties: by name); raises NodeError when none runs."""
    live = sorted((-len(s), h) for h, s in topology.items() if s)
    if not live:
        raise NodeError("no running host to run work on")
    return live[0][1]


def submit(conn: _Starter, work: Callable[..., Any] | str, args: tuple, host: str) -> Future:
    """Start ``work`` (a function, shipped, or an entry id) with ``args`` on ``host``, monitored."""
    if callable(work):
        return Future(conn, conn.spawn_function(work, host, *args, monitor=True))
    return Future(conn, conn.spawn(work, host, *args, monitor=True))


def map_work(conn: _Starter, work: Callable[..., Any] | str, items: Iterable[Any], host: str,
             timeout: float | None) -> list[Any]:
    """``work(item)`` for every item on ``host``, a function pickled once; the results in order."""
    if callable(work):
        code, name = conn._dumps(work), fn_name(work)
        futures = [Future(conn, conn._spawn(name, host, (item,), MONITOR, code)) for item in items]
    else:
        futures = [Future(conn, conn.spawn(work, host, item, monitor=True)) for item in items]
    return gather(futures, timeout)


def fn_name(fn: Callable[..., Any]) -> str:
    """The entry id a shipped function's process reports."""
    return f"<function {getattr(fn, '__qualname__', 'anonymous')}>"


def _installed_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib", "purelib", "platlib")
             if k in paths}
    roots |= {os.path.realpath(p) for p in sys.path if "site-packages" in p or "dist-packages" in p}
    return tuple(sorted(roots))


def local_modules(app_dir: str | None = None) -> list[types.ModuleType]:
    """The imported modules a host could not import: defined in files outside the Python
    installation (standard library, site-packages), outside wippy and outside ``app_dir``
    (which every host has on its path)."""
    roots = _installed_roots()
    skip = tuple(os.path.realpath(p) + os.sep for p in
                 (os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                  *([app_dir] if app_dir else [])))
    out = []
    for name, mod in list(sys.modules.items()):
        path = getattr(mod, "__file__", None)
        if not path or name == "__main__" or not path.endswith(".py"):
            continue
        real = os.path.realpath(path)
        if real.startswith(roots) or real.startswith(skip):
            continue
        out.append(mod)
    return out


def dumps_function(fn: Callable[..., Any], app_dir: str | None = None) -> bytes:
    """``fn`` cloudpickled for a host: modules only the program can import go by value."""
    import cloudpickle
    registered = []
    for mod in local_modules(app_dir):
        try:
            cloudpickle.register_pickle_by_value(mod)
        except ValueError:
            continue
        registered.append(mod)
    try:
        return cloudpickle.dumps(fn)
    finally:
        for mod in registered:
            cloudpickle.unregister_pickle_by_value(mod)


def import_hint(message: str) -> str | None:
    """How to fix a shipped function's import failure on a host (None: not one)."""
    if "No module named" not in message:
        return None
    return (" (the host could not import a module the function needs: install it in the "
            "Python environment the node runs in, or put it in the application directory, "
            "which every host has on its path)")


def _with_hint(exc: BaseException) -> BaseException:
    if isinstance(exc, ProcessFailed) and not getattr(exc, "_hinted", False):
        hint = import_hint(str(exc))
        if hint:
            hinted = ProcessFailed(str(exc) + hint)
            hinted._hinted = True     # type: ignore[attr-defined]
            return hinted
    return exc
