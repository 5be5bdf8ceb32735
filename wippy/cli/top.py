"""``wippy top [APP]``: a live view of a running node, refreshed twice a second.

Hosts (state, OS pid, CPU, RSS, processes, messages/s in and out, spawns and exits/s, mailbox
depth total and deepest, restarts), services (state, restarts, last failure), workflows
(running, steps/s) and the registry version. The rates come from two statuses in a row
(:func:`wippy.node.status.rates`); the node keeps no history.

The screen is drawn with curses from the standard library, so it works over SSH in any
terminal with no extra dependency. What is drawn is :func:`render`'s list of lines, a pure
function of two statuses, so tests read it without a terminal (and read the real screen
through tmux). Rejected: a TUI library (textual, rich.live): a dependency of the core six for
one screen that curses draws in a page of code.

Keys: ``q`` quits; ``s`` sorts the hosts by the next column (``S`` the previous), ``r``
reverses; ``c`` CPU, ``m`` memory, ``p`` processes, ``i``/``o`` messages in/out, ``b`` mailbox,
``n`` name; ``+``/``-`` change the refresh interval; space pauses.
"""
from __future__ import annotations

import argparse
import enum
import sys
import time as _time
from typing import Any

from ..node.status import rates
from .common import (
    add_app,
    app_of,
    connect_or_none,
    fmt_bytes,
    fmt_cpu,
    fmt_rate,
    host_label,
    until_interrupted,
)

__all__ = ["Sort", "render", "register", "REFRESH_S"]

REFRESH_S = 0.5          # default refresh: twice a second
MIN_REFRESH_S = 0.1


class Sort(str, enum.Enum):
    """The columns the host table sorts by (largest first, but for the name)."""

    CPU = "cpu"
    RSS = "rss"
    PROCS = "procs"
    IN = "in"
    OUT = "out"
    MAILBOX = "mailbox"
    NAME = "name"


_KEYS = {"c": Sort.CPU, "m": Sort.RSS, "p": Sort.PROCS, "i": Sort.IN, "o": Sort.OUT,
         "b": Sort.MAILBOX, "n": Sort.NAME}
_ORDER = list(Sort)


def _sort_key(sort: Sort, h: dict[str, Any], r: dict[str, float]) -> Any:
    if sort is Sort.NAME:
        return (h["host"], h["serial"])
    return {Sort.CPU: h.get("cpu") or 0.0, Sort.RSS: h.get("rss") or 0,
            Sort.PROCS: h.get("count", 0), Sort.IN: r.get("msgs_in", 0.0),
            Sort.OUT: r.get("msgs_out", 0.0), Sort.MAILBOX: h.get("mailbox_total", 0)}[sort]


def _uptime(s: float) -> str:
    s = int(s)
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def render(status: dict[str, Any], before: dict[str, Any] | None, sort: Sort = Sort.CPU,
           reverse: bool = False, width: int = 132, height: int = 50, interval: float = REFRESH_S,
           paused: bool = False) -> list[str]:
    """The screen for ``status`` (``Connection.status(processes=False)``), with the rates
    since ``before`` (None: rates not known yet), at most ``height`` lines of ``width``."""
    node = status["node"]
    rt = rates(before, status)
    wf = status.get("workflows") or {}
    hosts = status.get("hosts", [])
    total_procs = sum(h.get("count", 0) for h in hosts)
    lines = [
        f"wippy top  {node['app_dir']}  node pid {node['pid']}  up {_uptime(node['uptime'])}  "
        f"registry v{node.get('registry_version')}  {_time.strftime('%H:%M:%S')}"
        + ("  PAUSED" if paused else ""),
        f"{len(hosts)} host OS process(es), {total_procs} process(es), "
        f"workflows running {wf.get('running', 0)}, steps/s {fmt_rate(rt['steps'])}   "
        f"[q]uit [s]ort:{sort.value}{' (reversed)' if reverse else ''} [r]everse "
        f"refresh {interval:g}s [+/-]",
        "",
        f"{'HOST':<26} {'STATE':<8} {'OS PID':>7} {'CPU%':>6} {'RSS':>9} {'PROCS':>6} "
        f"{'IN/s':>7} {'OUT/s':>7} {'SPAWN/s':>7} {'EXIT/s':>7} {'MBOX':>6} {'MAX':>5} {'RESTARTS':>8}",
    ]
    none: dict[str, float] = {}
    rows = sorted(hosts, key=lambda h: _sort_key(sort, h, rt["hosts"].get(h["serial"], none)),
                  reverse=(sort is not Sort.NAME) != reverse)
    for h in rows:
        r = rt["hosts"].get(h["serial"])
        lines.append(
            f"{host_label(h):<26} {h.get('state', '-'):<8} {h['os_pid']:>7} "
            f"{fmt_cpu(h.get('cpu')):>6} {fmt_bytes(h.get('rss')):>9} {h.get('count', 0):>6} "
            f"{fmt_rate(r and r['msgs_in']):>7} {fmt_rate(r and r['msgs_out']):>7} "
            f"{fmt_rate(r and r['spawns']):>7} {fmt_rate(r and r['exits']):>7} "
            f"{h.get('mailbox_total', 0):>6} {h.get('mailbox_max', 0):>5} {h.get('restarts', 0):>8}")
    services = status.get("services") or []
    if services:
        lines += ["", f"{'SERVICE':<30} {'STATE':<9} {'RESTARTS':>8}  LAST FAILURE"]
        for s in services:
            lines.append(f"{s['id']:<30} {s['state']:<9} {s['restarts']:>8}  {s.get('last_error') or ''}")
    for sup in status.get("supervisors") or []:
        lines.append(f"supervisor {sup['id']} ({sup['strategy']}) {sup['state']}, "
                     f"{sup['restarts']} restart(s)"
                     + (f"; last error: {sup['last_error']}" if sup.get("last_error") else ""))
    failures = [f"{host_label(h)}: {h['last_failure']}" for h in hosts if h.get("last_failure")]
    if failures:
        lines += ["", "LAST PROCESS FAILURE PER HOST"] + failures
    return [line[:width] for line in lines[:height]]


def _run_curses(conn: Any, interval: float) -> int:
    import curses

    def loop(scr: Any) -> int:
        curses.curs_set(0)
        scr.timeout(0)
        sort, reverse, paused = Sort.CPU, False, False
        before: dict[str, Any] | None = None
        status: dict[str, Any] | None = None
        step = interval
        next_at = 0.0
        while True:
            now = _time.monotonic()
            if now >= next_at and not paused:
                before, status = status, conn.status(processes=False)
                next_at = now + step
            assert status is not None
            height, width = scr.getmaxyx()
            scr.erase()
            for y, line in enumerate(render(status, before, sort, reverse, width - 1, height,
                                            step, paused)):
                scr.addstr(y, 0, line, curses.A_BOLD if y in (0, 3) else curses.A_NORMAL)
            scr.refresh()
            scr.timeout(max(10, int((next_at - _time.monotonic()) * 1000)) if not paused else 200)
            ch = scr.getch()
            if ch < 0:
                continue
            key = chr(ch) if ch < 256 else ""
            if key in ("q", "Q") or ch == 27:
                return 0
            if key in _KEYS:
                sort = _KEYS[key]
            elif key == "s":
                sort = _ORDER[(_ORDER.index(sort) + 1) % len(_ORDER)]
            elif key == "S":
                sort = _ORDER[(_ORDER.index(sort) - 1) % len(_ORDER)]
            elif key == "r":
                reverse = not reverse
            elif key == "+":
                step = step * 2
            elif key == "-":
                step = max(MIN_REFRESH_S, step / 2)
            elif key == " ":
                paused = not paused
    return int(curses.wrapper(loop))


def _top(a: argparse.Namespace) -> int:
    conn = connect_or_none(app_of(a), "wippy top")
    if conn is None:
        return 1

    def show() -> int:
        if not sys.stdout.isatty():
            # not a terminal (a pipe, a log): print one screen with rates and stop
            before = conn.status(processes=False)
            _time.sleep(a.interval)
            print("\n".join(render(conn.status(processes=False), before, interval=a.interval)))
            return 0
        return _run_curses(conn, a.interval)

    with conn:
        return until_interrupted("wippy top", show, "the node stopped answering: ")


def register(sub: Any) -> None:
    """Add ``top`` to the command's subparsers."""
    p = sub.add_parser(
        "top", help="a live view of the running node (hosts, rates, services, workflows)",
        description="A live view of the running node, refreshed every --interval seconds: "
                    "hosts (CPU, RSS, processes, messages/s in and out, spawns and exits/s, "
                    "mailbox depths, restarts), services, workflows and the registry version. "
                    "Keys: q quit, s/S sort column, r reverse, c/m/p/i/o/b/n sort by CPU, "
                    "memory, processes, in, out, mailbox, name; +/- refresh; space pause. "
                    "Not on a terminal, it prints one screen and exits.")
    add_app(p)
    p.add_argument("-n", "--interval", type=float, default=REFRESH_S, metavar="S",
                   help=f"seconds between refreshes (default {REFRESH_S:g})")
    p.set_defaults(func=_top)
