"""What every ``wippy`` command shares: how it names the application, how it reaches the node,
how it prints a listing as JSON, and the cells ``ps`` and ``top`` both show.

Every command takes the application the same way: a positional ``APP`` (default: the current
directory), with ``--app APP`` kept as an alias. Commands with subcommands (``registry``,
``workflow``) take APP before the subcommand (``wippy registry APP list``), as ``wippy run APP
-x ENTRY`` does.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable, Iterable, Mapping

__all__ = ["add_app", "app_of", "split_app", "connect_or_none", "until_interrupted",
           "print_json", "fmt_bytes", "fmt_rate", "fmt_cpu", "fmt_when", "host_label",
           "add_data_dir", "APP_HELP"]

APP_HELP = "the application directory (default: the current directory)"


def add_app(p: argparse.ArgumentParser, positional: bool = True) -> None:
    """Give ``p`` the application argument: positional ``app`` and the ``--app`` alias."""
    if positional:
        p.add_argument("app", nargs="?", default=None, metavar="APP", help=APP_HELP)
    p.add_argument("--app", dest="app_opt", default=None, metavar="APP",
                   help="the same as the positional APP (kept for older scripts)")


def add_data_dir(p: argparse.ArgumentParser) -> None:
    """Give ``p`` ``--data-dir``, for commands that also read a stopped node's data."""
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="the node's data directory (default: APP/.wippy/data or WIPPY_DATA_DIR)")


def app_of(a: argparse.Namespace) -> str:
    """The application a command was given (positional, ``--app``, or ``.``)."""
    return getattr(a, "app", None) or getattr(a, "app_opt", None) or "."


def split_app(argv: list[str], subcommands: Iterable[str]) -> tuple[str | None, list[str]]:
    """For a command with subcommands: a first word that is neither an option nor a
    subcommand is APP (``wippy registry APP list``)."""
    if argv and not argv[0].startswith("-") and argv[0] not in set(subcommands):
        return argv[0], argv[1:]
    return None, argv


def connect_or_none(app: str, prog: str = "wippy") -> Any:
    """A connection to the node running ``app``, or None after saying why on stderr."""
    from ..client import connect
    from ..core.rundir import run_dir_for
    from ..errors import NodeError
    try:
        return connect(run_dir_for(app))
    except NodeError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None


def until_interrupted(prog: str, body: Callable[[], int], lost: str = "") -> int:
    """``body()``'s exit code for a command that watches the node until Ctrl-C: 0 on Ctrl-C,
    1 after saying on stderr (after ``lost``) why the node stopped answering."""
    from ..errors import WippyError
    try:
        return body()
    except KeyboardInterrupt:
        return 0
    except WippyError as exc:
        print(f"{prog}: {lost}{exc}", file=sys.stderr)
        return 1


def print_json(value: Any) -> None:
    """One listing as JSON on stdout (``--json``)."""
    print(json.dumps(value, indent=2, default=str, sort_keys=False))


def fmt_bytes(n: float | None) -> str:
    """``12.3MiB``; ``-`` when unknown."""
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return str(n)


def fmt_cpu(cpu: float | None) -> str:
    """A host's CPU percent, ``12.5``; ``-`` when not measured yet."""
    return "-" if cpu is None else f"{cpu:.1f}"


def host_label(h: Mapping[str, Any]) -> str:
    """A host OS process as ``ps`` and ``top`` name it: ``app:workers/3``."""
    return f"{h['host']}/{h['serial']}"


def fmt_when(t: float | None) -> str:
    """A wall-clock time as ``2026-05-01 12:00:00`` (local time); ``-`` when unknown."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


def fmt_rate(r: float | None) -> str:
    """``950``, ``12.3k``, ``1.2M`` per second; ``-`` when not known yet."""
    if r is None:
        return "-"
    if r < 1000:
        return f"{r:.0f}"
    if r < 1_000_000:
        return f"{r / 1000:.1f}k"
    return f"{r / 1_000_000:.1f}M"
