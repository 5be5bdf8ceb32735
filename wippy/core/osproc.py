"""Linux process plumbing: parent-death signals, subreaping, reaping, stdio in children."""
from __future__ import annotations

import ctypes
import os
import signal

__all__ = ["set_pdeathsig", "set_subreaper", "reap_all", "describe_status"]

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)


def set_pdeathsig(expected_parent: int, sig: int = signal.SIGKILL) -> None:
    """Die with ``sig`` when the parent dies; exit now if it already has (prctl race)."""
    _libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() != expected_parent:
        os._exit(1)


def set_subreaper() -> None:
    """Orphaned descendants reparent to us, so we can reap (and kill) them."""
    _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_all() -> list[tuple[int, int]]:
    """Reap every exited child without blocking: [(pid, wait status)]."""
    out = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        out.append((pid, status))
    return out


def describe_status(status: int) -> str:
    """'exit code 3' / 'killed by SIGKILL' / 'SIGSEGV (core dumped)'."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"killed by {name}" + (" (core dumped)" if os.WCOREDUMP(status) else "")
    if os.WIFEXITED(status):
        return f"exit code {os.WEXITSTATUS(status)}"
    return f"status {status}"
