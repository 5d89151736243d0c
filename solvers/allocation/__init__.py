"""Allocation: pickup → warehouse assignment, stock rationing, crate and load roll-ups."""

from .allocate import ASSIGN_STATUS, MAX_CRATES, allocate_stock, assign_pickups, crates_per_zone, trunk_load

__all__ = ["ASSIGN_STATUS", "MAX_CRATES", "assign_pickups", "allocate_stock", "trunk_load", "crates_per_zone"]
