"""Units, once.

Scenario files speak minutes, clock times ``"HH:MM"`` (minutes since 00:00 of the
delivery day; values up to ``"47:59"`` reach into the next day), kilometres,
kilograms, crates and RMB.  Internally the solvers speak integers: seconds,
metres and cost units of 1e-4 RMB (:data:`COST_SCALE` per RMB).
"""

from __future__ import annotations

import math

COST_SCALE = 10_000  # integer cost units per RMB
BIG_TIME_S = 10 * 24 * 3600  # "no deadline" in seconds


def parse_clock(value: object) -> float:
    """Return minutes since midnight for ``"HH:MM"`` (or a number of minutes)."""
    if isinstance(value, bool):
        raise ValueError("expected a clock time like '07:30'")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0 or value > 48 * 60:
            raise ValueError("minutes since midnight must be within 0..2880")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("expected a clock time like '07:30'")
    text = value.strip()
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValueError(f"'{value}' is not a clock time like '07:30'")
    h, m = int(parts[0]), int(parts[1])
    s = int(parts[2]) if len(parts) == 3 else 0
    if m >= 60 or s >= 60 or h > 47:
        raise ValueError(f"'{value}' is not a valid clock time (hours 0-47, minutes 0-59)")
    return h * 60.0 + m + s / 60.0


def format_clock(minutes: float) -> str:
    """Format minutes since midnight as ``HH:MM`` (rounded to the minute)."""
    total = int(round(minutes))
    return f"{total // 60:02d}:{total % 60:02d}"


def minutes_to_s(minutes: float) -> float:
    return minutes * 60.0


def cost_units(rmb: float) -> int:
    """RMB → integer cost units."""
    return int(round(rmb * COST_SCALE))
