"""Wippy/Go duration strings (wippy.durations)."""
from __future__ import annotations

import math

import pytest

from wippy.core.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("100ms", 0.1),
        ("1.5s", 1.5),
        ("1h30m", 5400.0),
        ("2m", 120.0),
        ("500us", 0.0005),
        ("500µs", 0.0005),
        ("250ns", 2.5e-7),
        ("10s", 10.0),
        ("1m30.5s", 90.5),
        (".5s", 0.5),
        ("0", 0.0),
        ("-2s", -2.0),
        (" 3s ", 3.0),
    ],
)
def test_go_duration_strings_parse_to_seconds(text: str, seconds: float) -> None:
    assert math.isclose(parse_duration(text), seconds, rel_tol=1e-12)


@pytest.mark.parametrize(("value", "seconds"), [(10, 10.0), (0, 0.0), (2.5, 2.5)])
def test_numbers_are_seconds(value: float, seconds: float) -> None:
    assert parse_duration(value) == seconds
    assert isinstance(parse_duration(value), float)


def test_bad_duration_message_quotes_the_input() -> None:
    with pytest.raises(ValueError, match=r"^invalid duration '5 parsecs'"):
        parse_duration("5 parsecs")


@pytest.mark.parametrize("bad", ["10", "1d", "abc", "", "1.5", "s", "1hh", "--1s"])
def test_strings_without_a_known_unit_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)


def test_missing_unit_is_named_in_the_message() -> None:
    with pytest.raises(ValueError, match="missing unit"):
        parse_duration("10")


def test_unknown_unit_is_named_in_the_message() -> None:
    with pytest.raises(ValueError, match="unknown unit 'd'"):
        parse_duration("1d")


@pytest.mark.parametrize("bad", [True, False, None, [1], {"s": 1}, float("nan"), float("inf")])
def test_booleans_and_non_numbers_are_not_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (1.5, "1.5s"),
        (0.1, "100ms"),
        (5400, "1h30m"),
        (3600, "1h"),
        (90, "1m30s"),
        (0.0005, "500us"),
        (2.5e-7, "250ns"),
        (-2, "-2s"),
        (3661.25, "1h1m1.25s"),
    ],
)
def test_format_duration_is_compact_go_style(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [0.001234, 1.000001, 7322.5, 0.3, 86400.0, 1e-9])
def test_format_then_parse_round_trips(seconds: float) -> None:
    assert math.isclose(parse_duration(format_duration(seconds)), seconds, rel_tol=1e-9)
