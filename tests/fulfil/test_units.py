"""Clock times and units: ``parse_clock`` / ``format_clock`` at their edges."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from fulfil.units import COST_SCALE, cost_units, format_clock, minutes_to_s, parse_clock


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("00:00", 0.0),
        ("07:30", 450.0),
        ("7:30", 450.0),
        ("7:5", 425.0),
        (" 07:30 ", 450.0),
        ("23:59", 1439.0),
        ("24:00", 1440.0),  # midnight at the end of the delivery day
        ("25:15", 1515.0),  # past midnight: the next day keeps counting
        ("47:59", 2879.0),  # the last minute the format allows
        ("07:30:30", 450.5),
        ("00:00:59", 59 / 60),
    ],
)
def test_parse_clock_strings(text: str, minutes: float):
    assert parse_clock(text) == pytest.approx(minutes)


@pytest.mark.parametrize("value", [0, 0.0, 450, 450.25, 2880])
def test_parse_clock_minutes_pass_through(value: float):
    """Numbers are minutes since midnight, 0..2880 inclusive, returned as float."""
    out = parse_clock(value)
    assert out == value and isinstance(out, float)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("48:00", "not a valid clock time"),
        ("12:60", "not a valid clock time"),
        ("12:30:60", "not a valid clock time"),
        ("25:99", "not a valid clock time"),
        ("", "not a clock time"),
        ("12", "not a clock time"),
        ("12:", "not a clock time"),
        (":30", "not a clock time"),
        ("1:2:3:4", "not a clock time"),
        ("-1:00", "not a clock time"),
        ("07h30", "not a clock time"),
        ("07:30 am", "not a clock time"),
        ("7.5:00", "not a clock time"),
        (-1, "within 0..2880"),
        (2880.5, "within 0..2880"),
        (math.nan, "within 0..2880"),
        (math.inf, "within 0..2880"),
        (True, "expected a clock time"),
        (None, "expected a clock time"),
        ([7, 30], "expected a clock time"),
        (dt.time(7, 30), "expected a clock time"),  # the scenario schema converts these before
    ],
)
def test_parse_clock_rejects(value: object, message: str):
    with pytest.raises(ValueError, match=message):
        parse_clock(value)


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (0, "00:00"),
        (450, "07:30"),
        (1439, "23:59"),
        (1440, "24:00"),
        (1515, "25:15"),
        (2879, "47:59"),
        (0.4, "00:00"),
        (449.6, "07:30"),  # rounded to the minute
        (59.5, "01:00"),
        (1439.7, "24:00"),  # rounding may carry into the hour
    ],
)
def test_format_clock(minutes: float, text: str):
    assert format_clock(minutes) == text


def test_format_then_parse_round_trips_every_minute():
    """Every whole minute of the two days the format covers survives format → parse unchanged."""
    for m in range(0, 48 * 60):
        assert parse_clock(format_clock(m)) == m


def test_unit_conversions():
    assert minutes_to_s(1.5) == 90.0
    assert cost_units(1.0) == COST_SCALE
    assert cost_units(0.00006) == 1  # rounded to the nearest unit of 1e-4 RMB
    assert cost_units(12.3456) == 123_456
    assert cost_units(-2.5) == -25_000
