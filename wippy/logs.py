"""Log lines of the node and its hosts: who said it, at which level, in which shape (S10).

Every OS process of a node (the node itself, each host) calls :func:`setup` once. A line names
its source: a line logged while a process runs (Lua's ``logger``, a Python process's
``logging``) carries that process's PID and entry; any other line names the OS process (``node``
or ``app:processes/3``) and the part that logged it (``registry``, ``supervisor``...).

Two shapes, :class:`LogFormat`: ``text`` for people (short, coloured on a terminal) and
``json``, one object per line with ``ts``, ``level``, ``node``, ``host``, ``pid``, ``entry``,
``logger``, ``msg`` and ``fields`` (plus ``error`` with the traceback when there is one).

Where a line comes from is asked of a callback the host passes in (``source()``: the running
process's PID and entry, or None), so this module knows nothing of schedulers or processes.
A caller may also name them itself with ``extra={"wippy_pid": ..., "wippy_entry": ...,
"wippy_fields": {...}}`` (Lua's logger does: a function it runs has its own entry), and give
``wippy_msg``, the message without the fields its text already carries as ``k=v``.

Rejected: a third-party structured-logging library (structlog, loguru): the standard library's
``logging`` is what Python processes already call, and one Formatter covers both shapes.
"""
from __future__ import annotations

import enum
import json
import logging
import os
import socket
import sys
import time as _time
from typing import IO, Any, Callable

__all__ = ["LogFormat", "LEVELS", "DEFAULT_LEVEL", "EXEC_LEVEL", "parse_level", "setup",
           "node_name", "Formatter"]


class LogFormat(str, enum.Enum):
    """How a line is written: for people or for machines."""

    TEXT = "text"
    JSON = "json"


#: The levels ``--log-level`` and ``WIPPY_LOG_LEVEL`` accept, most verbose first.
LEVELS = ("debug", "info", "warning", "error", "critical")
_ALIASES = {"warn": "warning"}          # Lua's logger says warn
DEFAULT_LEVEL = "info"                   # `wippy run`: Wippy apps tell their story with logger:info
EXEC_LEVEL = "warning"                   # `wippy run -x`: stdout is the process's, keep stderr quiet

_SHORT = {logging.DEBUG: "DEBUG", logging.INFO: "INFO", logging.WARNING: "WARN",
          logging.ERROR: "ERROR", logging.CRITICAL: "CRIT"}
_COLOURS = {logging.DEBUG: "\x1b[2m", logging.WARNING: "\x1b[33m", logging.ERROR: "\x1b[31m",
            logging.CRITICAL: "\x1b[1;31m"}
_RESET = "\x1b[0m"

Source = Callable[[], "tuple[str, str] | None"]


def parse_level(text: str) -> int:
    """The ``logging`` level named ``text`` (case-insensitive, ``warn`` allowed); raises
    ValueError naming the choices."""
    name = _ALIASES.get(text.lower(), text.lower())
    if name not in LEVELS:
        raise ValueError(f"unknown log level '{text}' (choose from {', '.join(LEVELS)})")
    return int(getattr(logging, name.upper()))


def node_name() -> str:
    """What the ``node`` field says: ``WIPPY_NODE``, else this machine's host name."""
    return os.environ.get("WIPPY_NODE") or socket.gethostname().split(".")[0]


class Formatter(logging.Formatter):
    """Writes a record as a text line or a JSON object, naming its source."""

    def __init__(self, fmt: LogFormat, where: str, source: Source | None = None,
                 colour: bool = False, clock: bool = True) -> None:
        super().__init__()
        self.shape = LogFormat(fmt)
        self.where = where
        self.source = source
        self.colour = colour
        self.clock = clock          # text lines show the time of day (tests turn it off)
        self.node = node_name()

    def _origin(self, record: logging.LogRecord) -> tuple[str | None, str | None]:
        pid = getattr(record, "wippy_pid", None)
        if pid is not None:
            return pid, getattr(record, "wippy_entry", None)
        if self.source is not None:
            try:
                found = self.source()
            except Exception:  # noqa: BLE001 - naming the source must never lose the line
                found = None
            if found is not None:
                return found
        return None, None

    def format(self, record: logging.LogRecord) -> str:
        pid, entry = self._origin(record)
        fields = getattr(record, "wippy_fields", None) or {}
        msg = record.getMessage()       # a caller's fields may already be in it, as k=v
        error = self.formatException(record.exc_info) if record.exc_info else None
        if self.shape is LogFormat.JSON:
            out: dict[str, Any] = {
                "ts": _iso(record.created), "level": logging.getLevelName(record.levelno).lower(),
                "node": self.node, "host": self.where, "pid": pid, "entry": entry,
                "logger": record.name, "msg": getattr(record, "wippy_msg", msg),
                "fields": fields}
            if error:
                out["error"] = error
            return json.dumps(out, default=repr, ensure_ascii=False)
        level = _SHORT.get(record.levelno, record.levelname)
        if self.colour and record.levelno in _COLOURS:
            level = f"{_COLOURS[record.levelno]}{level:<5}{_RESET}"
        else:
            level = f"{level:<5}"
        if pid is not None:
            who = f"{pid} {entry}" if entry else pid
        else:
            part = record.name[6:] if record.name.startswith("wippy.") else record.name
            who = self.where if part in ("node", "host") else f"{self.where} {part}"
        line = f"{level} {who}: {msg}"
        if self.clock:
            line = f"{_clock(record.created)} {line}"
        if fields and not hasattr(record, "wippy_msg"):
            line += " " + json.dumps(fields, default=repr, ensure_ascii=False)
        if error:
            line += "\n" + error
        return line


def setup(level: str | int, fmt: LogFormat | str = LogFormat.TEXT, where: str = "node",
          source: Source | None = None, stream: IO[str] | None = None) -> None:
    """Send every log line of this OS process to ``stream`` (stderr) at ``level`` and above,
    in shape ``fmt``, naming ``where`` (``node`` or ``host/serial``) and, through
    ``source()``, the running process. Replaces any handler set before (a forked host
    inherits the node's)."""
    stream = stream if stream is not None else sys.stderr
    lvl = level if isinstance(level, int) else parse_level(level)
    colour = (LogFormat(fmt) is LogFormat.TEXT and not os.environ.get("NO_COLOR")
              and _isatty(stream))
    handler = logging.StreamHandler(stream)
    handler.setFormatter(Formatter(LogFormat(fmt), where, source, colour=colour))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(lvl)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _iso(t: float) -> str:
    return _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def _clock(t: float) -> str:
    return _time.strftime("%H:%M:%S", _time.localtime(t)) + f".{int(t % 1 * 1000):03d}"
