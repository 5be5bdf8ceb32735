"""The Lua watchdog: a thread that kills its host OS process when a Lua slice is stuck in a C
call that no hook can interrupt (a pathological ``string.find`` pattern); the node restarts the
host (S6 allows exactly this). Hosts only: see :mod:`wippy.lua.engine` for the hooks that
preempt and kill everything else.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time as _time

from . import engine

__all__ = ["enable_watchdog", "WATCHDOG_S"]

log = logging.getLogger("wippy.lua")

WATCHDOG_S = 5.0         # no hook for this long inside one slice: a C call is stuck, kill the host

_watchdog: threading.Thread | None = None


def enable_watchdog() -> None:
    """Start the thread that kills this OS process when a slice is stuck in C (hosts only)."""
    global _watchdog
    if _watchdog is not None:
        return

    def watch() -> None:
        while True:
            _time.sleep(1.0)
            st, stalled = engine.stalled()
            if st is not None and stalled > WATCHDOG_S:
                log.error("Lua process %s has been inside one C call for more than %.0f s "
                          "(no hook could run): killing this host OS process", st.label, WATCHDOG_S)
                logging.shutdown()
                os.kill(os.getpid(), signal.SIGKILL)

    _watchdog = threading.Thread(target=watch, name="wippy-lua-watchdog", daemon=True)
    _watchdog.start()
