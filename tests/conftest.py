"""Shared fixtures: small generated scenarios, planned once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="session")
def small_city(tmp_path_factory) -> Path:
    """A generated 2-warehouse, 60-pickup scenario: big enough to route, small enough to solve in seconds."""
    from fulfil.generate import GenerateConfig, write_scenario

    out = tmp_path_factory.mktemp("small_city")
    cfg = GenerateConfig(name="small_city", seed=3, forward_warehouses=2, pickup_points=60, orders=3000)
    return write_scenario(cfg, out)


@pytest.fixture(scope="session")
def demo_plan() -> tuple:
    """The bundled demo city planned once with a modest budget: ``(scenario, plan)``, ``plan`` a
    :class:`fulfil.plan_model.Plan` (``plan.to_doc()`` for the JSON document)."""
    from fulfil.pipeline import PlanParams, plan_night
    from fulfil.scenario import load_scenario

    s = load_scenario(SCENARIOS / "demo_city.toml")
    plan = plan_night(s, PlanParams(time_limit_s=8.0, seed=0))
    return s, plan
