"""``wippy.exec``: run OS commands through an ``exec.native`` registry entry, with Wippy's
names (S13). Lua's ``exec`` module is a view of this one.

::

    ex = exec.get("app:shell")
    proc = ex.exec("git status", {"work_dir": "/app/repo", "env": {"LANG": "C"}})
    out = proc.stdout_stream()
    proc.start()
    text = await out.read()            # what is there (waits for some), None at the end
    code = await proc.wait()
    ex.release()

What may run: the command string is split like Wippy's (spaces, single or double quotes; no
shell: ``|``, ``;``, ``$()`` are plain arguments). With ``command_whitelist`` on the entry,
only those exact command strings run (anything else is PERMISSION_DENIED). The child gets a
clean environment (the entry's ``default_env`` plus the call's ``env``, nothing inherited), its
working directory is the call's ``work_dir`` or the entry's ``default_work_dir``; the
executable is looked up in this OS process's ``PATH`` (as Go does); it starts with default
signal actions and no blocked signals, whatever this OS process inherited. A child still running when
its wippy process ends is killed, and so is one whose host OS process dies (a parent-death
signal; the fork is made by the host's main thread, which lives as long as the host).

Checked actions (S9), Wippy's: ``exec.get`` [executor id] for the executor, ``exec.run``
[the command string] for each command. Errors are :class:`wippy.ResourceError` with Wippy's
kinds or :class:`wippy.PermissionDenied`.

Waiting (``read``, ``wait``, ``write_stdin`` on a full pipe) polls the non-blocking pipe with
naps that grow from 1 ms to 50 ms, in the calling process only. Rejected: a worker thread per
blocked read (the host's pool has 8 threads, shared with SQL, and a long-running child would
hold one for its whole life); a watcher thread per child (the scheduler is not thread-safe, so
it would need the same wake-up pipe as ``to_thread``, for little gain at these rates).
"""
from __future__ import annotations

import os
import shutil
import signal as _signal
import subprocess
from typing import Any, Mapping

from .core.osproc import set_pdeathsig
from .errors import PermissionDenied, ResourceError
from .registry.entry import app_root
from .resources import runtime_or_none
from .runtime import scheduler as _sched

__all__ = ["get", "Executor", "Process", "Stream", "split_command"]

NAP_MIN_S = 0.001           # first nap while a pipe or child has nothing for us
NAP_MAX_S = 0.05            # the longest nap (the most a waiting Lua process lags)
READ_ALL = 65536            # read(0) / read() takes what is there, up to this much at once


#: Signals a command starts with at their default action, whatever this OS process does with
#: them: a node started from a background shell ignores SIGINT and SIGQUIT, and an ignored
#: signal stays ignored across exec, so ``proc:signal(2)`` would do nothing.
_DEFAULT_SIGNALS = (_signal.SIGINT, _signal.SIGQUIT, _signal.SIGTERM, _signal.SIGHUP,
                    _signal.SIGUSR1, _signal.SIGUSR2, _signal.SIGCHLD)


def _child_setup(parent: int) -> None:
    """In the forked child, before exec: die with the host, default signal actions, no
    blocked signals."""
    set_pdeathsig(parent)
    for sig in _DEFAULT_SIGNALS:
        _signal.signal(sig, _signal.SIG_DFL)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, ())


def split_command(cmd: str) -> list[str]:
    """Wippy's split: whitespace separates, a quote (single or double) groups until the same
    quote closes it; no escapes, no shell."""
    out: list[str] = []
    cur: list[str] = []
    quote = ""
    started = False
    for c in cmd.strip():
        if quote:
            if c == quote:
                quote = ""
            else:
                cur.append(c)
        elif c in "'\"":
            quote = c
            started = True
        elif c.isspace():
            if cur or started:
                out.append("".join(cur))
                cur, started = [], False
        else:
            cur.append(c)
    if cur or started:
        out.append("".join(cur))
    return out


async def _nap(seconds: float) -> None:
    """Let the other processes run for a while (never journaled, unlike ``time.sleep``)."""
    sched = _sched.get()
    w = sched.new_wait()
    h = sched.call_later(seconds, sched.wake, w, None)
    rt = runtime_or_none()
    if rt is not None:
        try:
            rt.current().add_timer(h)
        except RuntimeError:
            pass
    await _sched.suspend()


def get(id: str) -> Executor:
    """The executor of ``exec.native`` entry ``id``. Raises PermissionDenied, or ResourceError
    (INVALID, NOT_FOUND)."""
    if not isinstance(id, str) or not id:
        raise ResourceError("INVALID", "resource id is required")
    rt = runtime_or_none()
    if rt is not None:
        rt.check("exec.get", id)
    store = getattr(rt, "store", None)
    entry = store.get(id) if store is not None else None
    if entry is None:
        raise ResourceError("NOT_FOUND", f"executor not found: {id}")
    if entry.get("kind") != "exec.native":
        raise ResourceError("INVALID", f"{id} is a {entry.get('kind')}, not an executor")
    return Executor(id, dict(entry.get("data") or {}), rt)


class Executor:
    """An executor (Wippy's ``Executor``): makes processes from its entry's settings."""

    __slots__ = ("id", "_data", "_rt", "released")

    def __init__(self, id: str, data: dict[str, Any], rt: Any) -> None:
        self.id = id
        self._data = data
        self._rt = rt
        self.released = False

    def exec(self, cmd: str, options: Mapping[str, Any] | None = None) -> Process:
        """A process for ``cmd`` (not started). Raises PermissionDenied (a command the
        entry's whitelist lacks, or a policy), ResourceError INVALID."""
        if self.released:
            raise ResourceError("INVALID", "executor is released")
        if not isinstance(cmd, str) or not cmd.strip():
            raise ResourceError("INVALID", "command is required")
        if self._rt is not None:
            self._rt.check("exec.run", cmd)
        allowed = self._data.get("command_whitelist")
        if allowed is not None and cmd not in allowed:
            raise PermissionDenied(f"command not in the whitelist of executor {self.id}: "
                                   f"{cmd!r}")
        opts = dict(options or {})
        env = {str(k): str(v) for k, v in (self._data.get("default_env") or {}).items()}
        extra = opts.get("env") or {}
        if not isinstance(extra, Mapping):
            raise ResourceError("INVALID", "options.env must be a table of strings")
        env.update({str(k): str(v) for k, v in extra.items()})
        work_dir = opts.get("work_dir") or self._data.get("default_work_dir") or None
        if work_dir is not None:
            work_dir = os.path.normpath(os.path.join(app_root() or os.getcwd(), str(work_dir)))
        argv = split_command(cmd)
        if not argv or not argv[0]:
            raise ResourceError("INVALID", "command is required")
        return Process(cmd, argv, env, work_dir, self._rt)

    def release(self) -> bool:
        """Done with the executor (safe to call again)."""
        self.released = True
        return True


class Process:
    """A command (Wippy's ``Process``): ``start``, its streams, ``wait``, ``signal``."""

    def __init__(self, cmd: str, argv: list[str], env: dict[str, str], work_dir: str | None,
                 rt: Any) -> None:
        self.cmd = cmd
        self._argv = argv
        self._env = env
        self._work_dir = work_dir
        self._rt = rt
        self._popen: subprocess.Popen[bytes] | None = None
        self._streams: dict[str, Stream] = {}
        self.closed = False
        self.cancelled = False          # the process-exit hook (Process.add_timer's protocol)
        self.exit_code: int | None = None

    def _stream(self, which: str) -> Stream:
        if self.closed:
            raise ResourceError("INVALID", "process is closed")
        s = self._streams.get(which)
        if s is None:
            s = self._streams[which] = Stream(which)
            if self._popen is not None:
                s._attach(getattr(self._popen, which))
        return s

    def stdout_stream(self) -> Stream:
        return self._stream("stdout")

    def stderr_stream(self) -> Stream:
        return self._stream("stderr")

    def start(self) -> bool:
        """Start the command. Raises ResourceError (INVALID: already started or closed;
        NOT_FOUND: no such executable or working directory)."""
        if self.closed:
            raise ResourceError("INVALID", "process is closed")
        if self._popen is not None:
            raise ResourceError("INVALID", "process already started")
        exe = self._argv[0]
        if os.sep not in exe:
            exe = shutil.which(exe) or exe
        try:
            parent = os.getpid()
            self._popen = subprocess.Popen(
                [exe, *self._argv[1:]], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=self._env, cwd=self._work_dir,
                start_new_session=True, preexec_fn=lambda: _child_setup(parent))
        except FileNotFoundError as exc:
            what = self._work_dir if exc.filename == self._work_dir else self._argv[0]
            raise ResourceError("NOT_FOUND", f"cannot start {self.cmd!r}: {what}: "
                                             "no such file or directory") from None
        except OSError as exc:
            raise ResourceError("INTERNAL", f"cannot start {self.cmd!r}: {exc.strerror}") from None
        for pipe in (self._popen.stdin, self._popen.stdout, self._popen.stderr):
            assert pipe is not None
            os.set_blocking(pipe.fileno(), False)
        for which, s in self._streams.items():
            s._attach(getattr(self._popen, which))
        if self._rt is not None:
            try:
                self._rt.current().add_timer(self)      # killed when its process ends
            except RuntimeError:
                pass
        return True

    def _running(self) -> subprocess.Popen[bytes]:
        if self.closed:
            raise ResourceError("INVALID", "process is closed")
        if self._popen is None:
            raise ResourceError("INVALID", "process not started: call start() first")
        return self._popen

    async def write_stdin(self, data: bytes | str) -> bool:
        """Write to the command's input; empty data closes it (end of input)."""
        p = self._running()
        raw = data.encode() if isinstance(data, str) else bytes(data)
        assert p.stdin is not None
        if not raw:
            p.stdin.close()
            return True
        if p.stdin.closed:
            raise ResourceError("INVALID", "stdin is closed")
        view = memoryview(raw)
        nap = NAP_MIN_S
        while view:
            try:
                view = view[os.write(p.stdin.fileno(), view):]
                nap = NAP_MIN_S
            except BlockingIOError:
                await _nap(nap)
                nap = min(nap * 2, NAP_MAX_S)
            except BrokenPipeError:
                raise ResourceError("INTERNAL", "write stdin: the command closed its input") from None
        return True

    async def wait(self) -> int:
        """The exit code once the command ends (-1 when a signal ended it, as Go says)."""
        p = self._running()
        nap = NAP_MIN_S
        while p.poll() is None:
            await _nap(nap)
            nap = min(nap * 2, NAP_MAX_S)
        self.closed = True
        self.exit_code = p.returncode if p.returncode >= 0 else -1
        if p.stdin is not None and not p.stdin.closed:
            p.stdin.close()
        return self.exit_code

    def signal(self, signum: int) -> bool:
        """Send signal ``signum`` to the command."""
        p = self._running()
        try:
            p.send_signal(int(signum))
        except (ValueError, OSError) as exc:
            raise ResourceError("INTERNAL", f"send signal: {exc}") from None
        return True

    def close(self, force: bool = False) -> bool:
        """Stop the command: SIGTERM, or SIGKILL with ``force``."""
        p = self._popen
        self.closed = True
        if p is not None and p.poll() is None:
            try:
                p.send_signal(_signal.SIGKILL if force else _signal.SIGTERM)
            except OSError:
                pass
        return True

    def cancel(self) -> None:
        """Its wippy process ended: kill the command and reap it."""
        self.cancelled = True
        p = self._popen
        if p is None:
            return
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=1.0)
            except (OSError, subprocess.TimeoutExpired):
                pass
        for pipe in (p.stdin, p.stdout, p.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()


class Stream:
    """A command's output stream (Wippy's stream: ``read``, ``close``)."""

    __slots__ = ("which", "_pipe", "closed")

    def __init__(self, which: str) -> None:
        self.which = which
        self._pipe: Any = None
        self.closed = False

    def _attach(self, pipe: Any) -> None:
        self._pipe = pipe

    async def read(self, size: int = 0) -> bytes | None:
        """Up to ``size`` bytes (0: whatever is there), waiting until some arrive; None at
        the end of the stream."""
        if self.closed:
            raise ResourceError("INTERNAL", "stream closed")
        if self._pipe is None:
            raise ResourceError("INVALID", "process not started: call start() first")
        if not isinstance(size, int) or size < 0:
            raise ResourceError("INVALID", "size must be a positive integer")
        n = size or READ_ALL
        nap = NAP_MIN_S
        while True:
            try:
                data = os.read(self._pipe.fileno(), n)
            except BlockingIOError:
                await _nap(nap)
                nap = min(nap * 2, NAP_MAX_S)
                continue
            except (OSError, ValueError):
                return None
            return data or None

    def close(self) -> bool:
        self.closed = True
        return True
