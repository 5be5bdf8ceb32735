"""Wippy/Go duration strings <-> float seconds.

Wippy writes durations the way Go's ``time.ParseDuration`` reads them: a sequence of decimal
numbers, each with a unit, optionally signed: ``"100ms"``, ``"1.5s"``, ``"1h30m"``, ``"-2m"``.
Units: ``ns``, ``us`` (also ``µs``/``μs``), ``ms``, ``s``, ``m``, ``h``. As in Go, a bare ``"0"``
is allowed and any other number needs a unit.

Design decisions:
- Seconds as ``float`` everywhere inside wippy (what ``time.monotonic`` and asyncio use); the
  string form exists only at the edges (YAML, Lua, CLI output).
- A YAML ``int``/``float`` means seconds (``stop_timeout: 10``), because YAML users write that
  and it has no other sensible reading. ``bool`` is refused although it is an ``int`` in Python:
  ``timeout: yes`` is a mistake, not one second.
- No ``d`` (days) unit: Go has none, and accepting more than Wippy would make files that run
  here fail there.
- Parsed strings are cached (``lru_cache``): configs and Lua code repeat the same few literals.
- Negative durations parse (Go does); the callers that need a bound check it and say which field.
"""
from __future__ import annotations

import math
import re
from functools import lru_cache

__all__ = ["parse_duration", "format_duration", "UNITS"]

#: Seconds per unit, Go's set.
UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5 micro sign
    "μs": 1e-6,  # U+03BC greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}

# One "number + unit" component; the whole string is matched by repeating it.
_COMPONENT = re.compile(r"(\d+\.?\d*|\.\d+)([a-zµμ]+)")
_WHOLE = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)[a-zµμ]+)+")
_NUMBER_ONLY = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")

_HINT = "expected a number with a unit (ns, us, ms, s, m, h) such as '1.5s' or '1h30m'"


def parse_duration(value: str | int | float) -> float:
    """Return ``value`` in seconds.

    Accepts a Go duration string (``"1h30m"``, ``"100ms"``) or a number of seconds.
    Raises ``ValueError`` (``invalid duration '5 parsecs': ...``) for anything else,
    including booleans, NaN and infinities.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: a boolean is not a duration ({_HINT})")
    if isinstance(value, (int, float)):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError(f"invalid duration {value!r}: not a finite number")
        return seconds
    if isinstance(value, str):
        return _parse_str(value)
    raise ValueError(f"invalid duration {value!r}: {_HINT}, or a number of seconds")


@lru_cache(maxsize=1024)
def _parse_str(text: str) -> float:
    s = text.strip()
    if s in ("0", "+0", "-0"):
        return 0.0
    if not _WHOLE.fullmatch(s):
        if _NUMBER_ONLY.fullmatch(s):
            raise ValueError(f"invalid duration {text!r}: missing unit ({_HINT})")
        raise ValueError(f"invalid duration {text!r}: {_HINT}")
    sign = -1.0 if s[0] == "-" else 1.0
    total = 0.0
    for number, unit in _COMPONENT.findall(s.lstrip("+-")):
        scale = UNITS.get(unit)
        if scale is None:
            raise ValueError(f"invalid duration {text!r}: unknown unit {unit!r} ({_HINT})")
        total += float(number) * scale
    return sign * total


def _trim(value: float) -> str:
    """Shortest decimal text for ``value`` with at most 9 fraction digits."""
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def format_duration(seconds: float) -> str:
    """Go-style text for ``seconds``: ``1.5 -> "1.5s"``, ``5400 -> "1h30m"``, ``0.1 -> "100ms"``.

    The result parses back with :func:`parse_duration` to the same value (to the nanosecond).
    Zero components are left out (``"1h"``, not Go's ``"1h0m0s"``).
    """
    if isinstance(seconds, bool) or not math.isfinite(seconds):
        raise ValueError(f"cannot format duration {seconds!r}")
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_trim(ns / 1e3)}us"
    if ns < 1_000_000_000:
        return f"{sign}{_trim(ns / 1e6)}ms"
    hours, rest = divmod(ns, 3_600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    parts = [sign]
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if rest:
        parts.append(f"{_trim(rest / 1e9)}s")
    return "".join(parts)
