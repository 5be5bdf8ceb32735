"""Go's reference-time layouts (``"2006-01-02T15:04:05Z07:00"``) for Lua's ``time`` module.

Wippy's ``time`` is Go's: times format and parse with a layout written as the reference time
``Mon Jan 2 15:04:05 MST 2006``. Pure functions over integer nanoseconds since the epoch and a
UTC offset in seconds; no Lua here. Time zones other than UTC, local time and fixed offsets are
not supported (IANA names need tzdata; ``zoneinfo`` would do, later).
"""
from __future__ import annotations

import calendar
import re
import time as _time
from datetime import datetime, timedelta, timezone

__all__ = ["format_time", "parse_time", "parts", "local_offset", "LAYOUTS"]

NS = 1_000_000_000

LAYOUTS = {
    "RFC3339": "2006-01-02T15:04:05Z07:00",
    "RFC3339NANO": "2006-01-02T15:04:05.999999999Z07:00",
    "RFC822": "02 Jan 06 15:04 MST",
    "RFC822Z": "02 Jan 06 15:04 -0700",
    "RFC850": "Monday, 02-Jan-06 15:04:05 MST",
    "RFC1123": "Mon, 02 Jan 2006 15:04:05 MST",
    "RFC1123Z": "Mon, 02 Jan 2006 15:04:05 -0700",
    "DATE_TIME": "2006-01-02 15:04:05",
    "DATE_ONLY": "2006-01-02",
    "TIME_ONLY": "15:04:05",
    "KITCHEN": "3:04PM",
    "STAMP": "Jan _2 15:04:05",
    "STAMP_MILLI": "Jan _2 15:04:05.000",
    "STAMP_MICRO": "Jan _2 15:04:05.000000",
    "STAMP_NANO": "Jan _2 15:04:05.000000000",
}

# longest tokens first, so "2006" wins over "2", "January" over "Jan", "Z07:00" over "Z07"
_TOKENS = ["January", "Monday", "Z07:00:00", "-07:00:00", "Z07:00", "-07:00", "Z0700", "-0700",
           "2006", "Jan", "Mon", "MST", "002", "Z07", "-07", "_2", "01", "02", "03", "04", "05",
           "06", "15", "PM", "pm", "1", "2", "3", "4", "5"]
_FRAC = re.compile(r"[.,](0+|9+)(?!\d)")
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _tokenize(layout: str) -> list[tuple[str, str]]:
    """Layout -> [(kind, text)]: kind "lit" for literal text, else the token."""
    out: list[tuple[str, str]] = []
    i = 0
    lit: list[str] = []
    while i < len(layout):
        m = _FRAC.match(layout, i)
        if m and not lit and out and out[-1][0] in ("05", "5"):   # fractional seconds
            out.append(("frac", m.group(0)))
            i = m.end()
            continue
        for tok in _TOKENS:
            if layout.startswith(tok, i):
                if lit:
                    out.append(("lit", "".join(lit)))
                    lit = []
                out.append((tok, tok))
                i += len(tok)
                break
        else:
            lit.append(layout[i])
            i += 1
    if lit:
        out.append(("lit", "".join(lit)))
    return out


def local_offset(ns: int) -> int:
    """This machine's UTC offset (seconds) at instant ``ns``."""
    t = _time.localtime(ns // NS)
    return t.tm_gmtoff


def _dt(ns: int, offset: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=ns // NS + offset)


def parts(ns: int, offset: int) -> tuple[int, ...]:
    """(year, month, day, hour, minute, second, nanosecond, weekday 0=Sunday, yearday)."""
    d = _dt(ns, offset)
    return (d.year, d.month, d.day, d.hour, d.minute, d.second, ns % NS,
            (d.weekday() + 1) % 7, d.timetuple().tm_yday)


def _zone(offset: int, tok: str) -> str:
    if offset == 0 and tok.startswith("Z"):
        return "Z"
    sign = "-" if offset < 0 else "+"
    off = abs(offset)
    h, m, s = off // 3600, off // 60 % 60, off % 60
    if tok in ("Z07", "-07"):
        return f"{sign}{h:02d}"
    if tok in ("Z0700", "-0700"):
        return f"{sign}{h:02d}{m:02d}"
    if tok in ("Z07:00:00", "-07:00:00"):
        return f"{sign}{h:02d}:{m:02d}:{s:02d}"
    return f"{sign}{h:02d}:{m:02d}"


def format_time(ns: int, layout: str, offset: int = 0, zone_name: str = "UTC") -> str:
    """Format instant ``ns`` (shown at UTC ``offset`` seconds) with a Go layout."""
    d = _dt(ns, offset)
    frac = ns % NS
    out = []
    for kind, text in _tokenize(layout):
        if kind == "lit":
            out.append(text)
        elif kind == "frac":
            digits = len(text) - 1
            s = f"{frac:09d}"[:digits]
            if text[1] == "9":
                s = s.rstrip("0")
                out.append(text[0] + s if s else "")
            else:
                out.append(text[0] + s)
        elif kind == "2006":
            out.append(f"{d.year:04d}")
        elif kind == "06":
            out.append(f"{d.year % 100:02d}")
        elif kind == "01":
            out.append(f"{d.month:02d}")
        elif kind == "1":
            out.append(str(d.month))
        elif kind == "January":
            out.append(_MONTHS[d.month - 1])
        elif kind == "Jan":
            out.append(_MONTHS[d.month - 1][:3])
        elif kind == "02":
            out.append(f"{d.day:02d}")
        elif kind == "2":
            out.append(str(d.day))
        elif kind == "_2":
            out.append(f"{d.day:2d}")
        elif kind == "002":
            out.append(f"{d.timetuple().tm_yday:03d}")
        elif kind == "15":
            out.append(f"{d.hour:02d}")
        elif kind in ("03", "3"):
            h = d.hour % 12 or 12
            out.append(f"{h:02d}" if kind == "03" else str(h))
        elif kind in ("04", "4"):
            out.append(f"{d.minute:02d}" if kind == "04" else str(d.minute))
        elif kind in ("05", "5"):
            out.append(f"{d.second:02d}" if kind == "05" else str(d.second))
        elif kind in ("PM", "pm"):
            s = "PM" if d.hour >= 12 else "AM"
            out.append(s if kind == "PM" else s.lower())
        elif kind == "Monday":
            out.append(_DAYS[d.weekday()])
        elif kind == "Mon":
            out.append(_DAYS[d.weekday()][:3])
        elif kind == "MST":
            out.append(zone_name if zone_name else _zone(offset, "-0700"))
        else:
            out.append(_zone(offset, kind))
    return "".join(out)


_NUM = {"2006": r"(\d{4})", "06": r"(\d{2})", "01": r"(\d{2})", "1": r"(\d{1,2})",
        "02": r"(\d{2})", "2": r"(\d{1,2})", "_2": r" ?(\d{1,2})", "002": r"(\d{3})",
        "15": r"(\d{1,2})", "03": r"(\d{2})", "3": r"(\d{1,2})", "04": r"(\d{2})",
        "4": r"(\d{1,2})", "05": r"(\d{2})", "5": r"(\d{1,2})"}


def parse_time(layout: str, value: str, default_offset: int = 0) -> int:
    """Parse ``value`` with a Go layout; returns nanoseconds since the epoch.
    Raises ValueError with a message naming the layout when it does not match."""
    rx = ["^"]
    kinds: list[str] = []
    for kind, text in _tokenize(layout):
        if kind == "lit":
            rx.append(re.escape(text))
            continue
        kinds.append(kind)
        if kind in _NUM:
            rx.append(_NUM[kind])
        elif kind == "frac":
            rx.append(r"(?:[.,](\d+))?" if text[1] == "9" else r"[.,](\d{%d})" % (len(text) - 1))
        elif kind in ("January", "Monday"):
            rx.append(r"([A-Za-z]+)")
        elif kind in ("Jan", "Mon"):
            rx.append(r"([A-Za-z]{3})")
        elif kind in ("PM", "pm"):
            rx.append(r"([AaPp][Mm])")
        elif kind == "MST":
            rx.append(r"([A-Za-z]{3,5}|[+-]\d{4})")
        else:
            rx.append(r"(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)")
    rx.append("$")
    m = re.match("".join(rx), value)
    if not m:
        raise ValueError(f"cannot parse {value!r} as {layout!r}")
    year, month, day, hour, minute, second, nsec = 1, 1, 1, 0, 0, 0, 0
    pm: bool | None = None
    offset = default_offset
    yday = None
    for kind, got in zip(kinds, m.groups()):
        if got is None:
            continue
        if kind == "2006":
            year = int(got)
        elif kind == "06":
            year = 2000 + int(got) if int(got) < 69 else 1900 + int(got)
        elif kind in ("01", "1"):
            month = int(got)
        elif kind in ("January", "Jan"):
            names = [n.lower() if kind == "January" else n[:3].lower() for n in _MONTHS]
            if got.lower() not in names:
                raise ValueError(f"unknown month {got!r}")
            month = names.index(got.lower()) + 1
        elif kind in ("02", "2", "_2"):
            day = int(got)
        elif kind == "002":
            yday = int(got)
        elif kind in ("15", "03", "3"):
            hour = int(got)
        elif kind in ("04", "4"):
            minute = int(got)
        elif kind in ("05", "5"):
            second = int(got)
        elif kind == "frac":
            nsec = int((got + "000000000")[:9])
        elif kind in ("PM", "pm"):
            pm = got.lower() == "pm"
        elif kind == "MST":
            if got[0] in "+-":
                offset = (1 if got[0] == "+" else -1) * (int(got[1:3]) * 3600 + int(got[3:5]) * 60)
            elif got.upper() in ("UTC", "GMT"):
                offset = 0
        elif kind in ("Monday", "Mon"):
            pass
        else:
            if got == "Z":
                offset = 0
            else:
                digits = got[1:].replace(":", "")
                h = int(digits[:2])
                mm = int(digits[2:4] or 0)
                ss = int(digits[4:6] or 0)
                offset = (1 if got[0] == "+" else -1) * (h * 3600 + mm * 60 + ss)
    if pm is not None:
        hour = hour % 12 + (12 if pm else 0)
    if yday is not None:
        d = datetime(year, 1, 1) + timedelta(days=yday - 1)
        month, day = d.month, d.day
    try:
        secs = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
        datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise ValueError(f"cannot parse {value!r} as {layout!r}: {exc}") from None
    return (secs - offset) * NS + nsec
