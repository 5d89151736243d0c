"""Scenario model and loader (the only place that knows the file formats)."""

from fulfil.scenario.load import load_scenario
from fulfil.scenario.schema import ZONES, Scenario

__all__ = ["ZONES", "Scenario", "load_scenario"]
