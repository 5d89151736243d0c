"""fulfil: nightly route plans for community group-buying logistics.

Central warehouse → forward (grid) warehouses → pickup points, with temperature zones kept
and fresh goods delivered within the 2-hour promise.

The public Python API (names are imported on first use, so ``import fulfil`` stays light)::

    import fulfil

    scenario = fulfil.load_scenario("scenarios/demo_city.toml")
    plan = fulfil.plan_night(scenario, fulfil.PlanParams(time_limit_s=10))
    violations = fulfil.check_plan(scenario, plan)      # [] when the plan keeps every rule
    fulfil.write_plan(plan, "plan.json")
    same = fulfil.read_plan("plan.json")                 # a fulfil.Plan again

Errors fulfil raises on purpose derive from :class:`fulfil.FulfilError`
(:class:`fulfil.ScenarioError` for bad input, :class:`fulfil.UsageError` for bad parameters).
Planning runs routing subproblems in worker processes: call it from under
``if __name__ == "__main__":`` in a script, or pass ``fulfil.PlanParams(workers=1)``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.2.0"

_API = {
    "load_scenario": "fulfil.scenario.load",
    "Scenario": "fulfil.scenario.schema",
    "compile_night": "fulfil.night",
    "CompiledNight": "fulfil.night",
    "plan_night": "fulfil.pipeline",
    "PlanParams": "fulfil.params",
    "check_plan": "fulfil.checker",
    "Violation": "fulfil.checker",
    "summarize": "fulfil.checker",
    "Plan": "fulfil.plan_model",
    "Duty": "fulfil.plan_model",
    "Trip": "fulfil.plan_model",
    "Stop": "fulfil.plan_model",
    "read_plan": "fulfil.plan_model",
    "write_plan": "fulfil.plan_model",
    "parse_plan": "fulfil.plan_model",
    "make_executor": "fulfil.executor",
    "FulfilError": "fulfil.errors",
    "ScenarioError": "fulfil.errors",
    "UsageError": "fulfil.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'fulfil' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
