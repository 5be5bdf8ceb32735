"""Lua's ``time`` module: Wippy's (Go's) time API over wippy's timers.

Objects (fields, as the prelude stores them): ``Time {ns since the epoch, zone name, fixed
offset or nil}``, ``Duration {ns}``, ``Location {name, fixed offset or nil}``,
``Timer``/``Ticker {handle, channel}`` (made by :mod:`wippy.lua.timers`). A number given as a duration is nanoseconds (Go);
``"1h30m"`` strings and Duration objects are accepted everywhere a duration is.
``time.sleep`` is a blocking call (``blocking.py``). Inside a workflow's own code (S8) ``time.now``
and ``time.after``'s due time are journaled (through :mod:`wippy.runtime.durable`, in
nanoseconds, the journal's unit), and ``time.sleep`` is a durable timer (``wippy.time.sleep``),
as in Python. Zones: ``UTC``, ``Local``, fixed offsets, and IANA names through ``zoneinfo`` when
the system has tzdata.
"""
from __future__ import annotations

import calendar
import time as _stdtime
from typing import Any

from ..core.durations import parse_duration
from ..runtime import durable
from . import timefmt
from .api import MEMBERS, ApiError, New, TimeValue, constant, field, function, method, text
from .engine import is_lua_table

__all__ = ["seconds", "ns_of"]

NS = 1_000_000_000

for _name, _value in (("NANOSECOND", 1), ("MICROSECOND", 1000), ("MILLISECOND", 1_000_000),
                      ("SECOND", NS), ("MINUTE", 60 * NS), ("HOUR", 3600 * NS)):
    constant("time", _name, _value)
for _i, _m in enumerate(("JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY",
                         "AUGUST", "SEPTEMBER", "OCTOBER", "NOVEMBER", "DECEMBER"), 1):
    constant("time", _m, _i)
for _i, _d in enumerate(("SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY",
                         "SATURDAY")):
    constant("time", _d, _i)
for _name, _layout in timefmt.LAYOUTS.items():
    constant("time", _name, _layout)


MEMBERS.setdefault("time", {}).update({          # object constants: made once per Lua state
    "utc": ("o", (b"Location", b"UTC", 0)),
    "UTC": ("o", (b"Location", b"UTC", 0)),
    "localtz": ("o", (b"Location", b"Local", None)),
    "Local": ("o", (b"Location", b"Local", None)),
})


# -- durations -------------------------------------------------------------------------------
def ns_of(d: Any) -> int:
    """A Lua duration argument -> nanoseconds."""
    t = type(d)
    if t is int:
        return d
    if t is float:
        return int(d)
    if is_lua_table(d) and type(d[1]) is int:
        return d[1]
    try:
        return round(parse_duration(text(d, "duration")) * NS)
    except ValueError as exc:
        raise ApiError("INVALID", str(exc)) from None


def seconds(d: Any) -> float:
    return ns_of(d) / NS


@function("time", "parse_duration")
def parse_duration_(v: Any) -> Any:
    return New((b"Duration", ns_of(v)))

for _name, _div in (("nanoseconds", 1), ("microseconds", 1000), ("milliseconds", 1_000_000)):
    def _int_unit(ns: int, _a: Any, _b: Any, _div: int = _div) -> int:
        return ns // _div
    method("Duration", _name)(_int_unit)
for _name, _div in (("seconds", NS), ("minutes", 60 * NS), ("hours", 3600 * NS)):
    def _float_unit(ns: int, _a: Any, _b: Any, _div: int = _div) -> float:
        return ns / _div
    method("Duration", _name)(_float_unit)


def go_duration(ns: int) -> str:
    """Go's ``Duration.String()``: ``"1h30m0s"``, ``"1.5s"``, ``"100ms"``, ``"1.5µs"``, ``"0s"``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    n = abs(ns)

    def frac(v: int, unit: int) -> str:
        whole, rest = divmod(v, unit)
        if not rest:
            return str(whole)
        digits = str(rest).rjust(len(str(unit)) - 1, "0").rstrip("0")
        return f"{whole}.{digits}"
    if n < 1_000:
        return f"{sign}{n}ns"
    if n < 1_000_000:
        return f"{sign}{frac(n, 1_000)}\u00b5s"
    if n < NS:
        return f"{sign}{frac(n, 1_000_000)}ms"
    h, rest = divmod(n, 3600 * NS)
    m, rest = divmod(rest, 60 * NS)
    out = sign
    if h:
        out += f"{h}h"
    if h or m:
        out += f"{m}m"
    return out + frac(rest, NS) + "s"


@method("Duration", "string")
def duration_string(ns: int, _a: Any, _b: Any) -> bytes:
    return go_duration(ns).encode()


# -- zones -----------------------------------------------------------------------------------
def _offset(ns: int, zone: Any, fixed: Any) -> int:
    if fixed is not None:
        return int(fixed)
    z = zone.decode() if isinstance(zone, bytes) else (zone or "Local")
    if z == "UTC":
        return 0
    if z == "Local":
        return timefmt.local_offset(ns)
    try:
        from datetime import datetime, timezone
        from zoneinfo import ZoneInfo
        off = datetime.fromtimestamp(ns // NS, tz=timezone.utc).astimezone(ZoneInfo(z)).utcoffset()
        return int(off.total_seconds()) if off is not None else 0
    except Exception:  # noqa: BLE001 - an unknown zone shows as UTC rather than failing a format
        return 0


def _zone_label(ns: int, zone: Any, fixed: Any) -> str:
    z = zone.decode() if isinstance(zone, bytes) else (zone or "Local")
    if z == "Local":
        return _stdtime.strftime("%Z", _stdtime.localtime(ns // NS))
    if z == "UTC":
        return "UTC"
    if fixed is not None:
        return z
    return ""


@function("time")
def fixed_zone(name: Any, offset: Any) -> Any:
    return New((b"Location", text(name, "name").encode(), int(offset)))


@function("time")
def load_location(name: Any) -> Any:
    n = text(name, "name") if name is not None else ""
    if not n:
        raise ApiError("INVALID", "empty location name")
    if n in ("UTC", "Local"):
        return New((b"Location", n.encode(), 0 if n == "UTC" else None))
    try:
        from zoneinfo import ZoneInfo
        ZoneInfo(n)
    except Exception:  # noqa: BLE001 - ZoneInfo raises several kinds for a bad name
        raise ApiError("NOT_FOUND", f"unknown time zone {n}") from None
    return New((b"Location", n.encode(), None))


field("Location", "name", 1)


@method("Location", "string")
def location_string(name: Any, _a: Any, _b: Any) -> Any:
    return name


def _loc(loc: Any, default: tuple = (b"Local", None)) -> tuple:
    if loc is None:
        return default
    if not is_lua_table(loc):
        raise ApiError("INVALID", "a time.Location expected")
    return (loc[1], loc[2])


# -- times -----------------------------------------------------------------------------------
@function("time")
def now() -> Any:
    wf = durable.current()
    return New((b"Time", _stdtime.time_ns() if wf is None else wf.now(), b"Local", None))


@function("time")
def unix(sec: Any, nsec: Any = 0) -> Any:
    return New((b"Time", int(sec) * NS + int(nsec or 0), b"Local", None))


@function("time")
def date(y: Any, mo: Any, d: Any, h: Any = 0, mi: Any = 0, s: Any = 0, ns: Any = 0,
         loc: Any = None) -> Any:
    zone, fixed = _loc(loc)
    secs = calendar.timegm((int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), 0, 0, 0))
    first = secs * NS
    off = _offset(first, zone, fixed)
    off = _offset(first - off * NS, zone, fixed)       # the offset at the wall time we mean
    return New((b"Time", (secs - off) * NS + int(ns or 0), zone, fixed))


@function("time")
def parse(layout: Any, value: Any, loc: Any = None) -> Any:
    zone, fixed = _loc(loc, (b"UTC", 0))
    try:
        ns = timefmt.parse_time(text(layout, "layout"), text(value, "value"),
                                _offset(_stdtime.time_ns(), zone, fixed))
    except ValueError as exc:
        raise ApiError("INVALID", str(exc)) from None
    return New((b"Time", ns, zone, fixed))


def _other(t: Any) -> int:
    if not is_lua_table(t) or type(t[1]) is not int:
        raise ApiError("INVALID", "a time.Time expected")
    return t[1]


@method("Time")
def unix_(ns: int, z: Any, f: Any) -> int:
    return ns // NS


@method("Time")
def unix_nano(ns: int, z: Any, f: Any) -> int:
    return ns


@method("Time")
def add(ns: int, z: Any, f: Any, d: Any = 0) -> Any:
    return New((b"Time", ns + ns_of(d), z, f))


@method("Time")
def sub(ns: int, z: Any, f: Any, other: Any = None) -> Any:
    return New((b"Duration", ns - _other(other)))


@method("Time")
def before(ns: int, z: Any, f: Any, other: Any = None) -> bool:
    return ns < _other(other)


@method("Time")
def after(ns: int, z: Any, f: Any, other: Any = None) -> bool:
    return ns > _other(other)


@method("Time")
def equal(ns: int, z: Any, f: Any, other: Any = None) -> bool:
    return ns == _other(other)


@method("Time")
def is_zero(ns: int, z: Any, f: Any) -> bool:
    return ns == 0


@method("Time")
def utc(ns: int, z: Any, f: Any) -> Any:
    return New((b"Time", ns, b"UTC", 0))


@method("Time")
def in_local(ns: int, z: Any, f: Any) -> Any:
    return New((b"Time", ns, b"Local", None))


@method("Time")
def in_location(ns: int, z: Any, f: Any, loc: Any = None) -> Any:
    zone, fixed = _loc(loc)
    return New((b"Time", ns, zone, fixed))


@method("Time")
def location(ns: int, z: Any, f: Any) -> Any:
    return New((b"Location", z, f))


@method("Time")
def format(ns: int, z: Any, f: Any, layout: Any = None) -> bytes:
    return timefmt.format_time(ns, text(layout, "layout"), _offset(ns, z, f),
                               _zone_label(ns, z, f)).encode()


@method("Time")
def format_rfc3339(ns: int, z: Any, f: Any) -> bytes:
    return format(ns, z, f, timefmt.LAYOUTS["RFC3339"].encode())


@method("Time")
def string(ns: int, z: Any, f: Any) -> bytes:
    return format(ns, z, f, b"2006-01-02 15:04:05.999999999 -0700 MST")


@method("Time")
def round_(ns: int, z: Any, f: Any, d: Any = None) -> Any:
    n = ns_of(d)
    return New((b"Time", (ns + n // 2) // n * n if n > 0 else ns, z, f))


@method("Time")
def truncate(ns: int, z: Any, f: Any, d: Any = None) -> Any:
    n = ns_of(d)
    return New((b"Time", ns // n * n if n > 0 else ns, z, f))


def _parts(ns: int, z: Any, f: Any) -> tuple:
    return timefmt.parts(ns, _offset(ns, z, f))


for _i, _name in enumerate(("year", "month", "day", "hour", "minute", "second", "nanosecond",
                            "weekday", "year_day")):
    def _part(ns: int, z: Any, f: Any, _i: int = _i) -> int:
        return _parts(ns, z, f)[_i]
    method("Time", _name)(_part)


@method("Time", "date")
def time_date(ns: int, z: Any, f: Any) -> tuple:
    return _parts(ns, z, f)[:3]


@method("Time")
def clock(ns: int, z: Any, f: Any) -> tuple:
    return _parts(ns, z, f)[3:6]


@method("Time")
def add_date(ns: int, z: Any, f: Any, years: Any = 0, months: Any = 0, days: Any = 0) -> Any:
    y, m, d, h, mi, s, nsec = _parts(ns, z, f)[:7]
    m0 = m - 1 + int(months or 0)
    y += int(years or 0) + m0 // 12
    m = m0 % 12 + 1
    secs = calendar.timegm((y, m, 1, h, mi, s, 0, 0, 0)) + (d - 1 + int(days or 0)) * 86400
    off = _offset(secs * NS, z, f)
    return New((b"Time", (secs - off) * NS + nsec, z, f))
