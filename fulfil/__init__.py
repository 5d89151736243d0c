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

import os
import sys
import tempfile
from importlib import import_module
from typing import Any

__version__ = "0.2.0"


def _writable(folder: str) -> bool:
    """Whether ``folder`` exists (or can be made) and takes a new file — numba's own test of a cache folder."""
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def _numba_cache_fallback() -> None:
    """Point numba's cache at a temp folder when it could write nowhere else.

    The ``cache=True`` kernels of ``geo`` and ``solvers`` make numba raise at import when it
    can write neither ``NUMBA_CACHE_DIR``, nor beside the sources (the package folder), nor the
    user's cache folder under HOME — a read-only install in a container without a home makes
    every command fail.  Then ``<temp>/fulfil-numba-<uid>`` is used; nothing changes otherwise.
    """
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    user_cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    places = [os.environ.get("NUMBA_CACHE_DIR", ""), *(os.path.join(here, pkg, "__pycache__") for pkg in ("geo", "solvers")),
              os.path.join(user_cache, "numba")]
    if any(place and _writable(place) for place in places):
        return
    try:
        fallback = os.path.join(tempfile.gettempdir(), f"fulfil-numba-{os.getuid()}")
    except OSError:  # no writable temp folder either: numba reports it
        return
    if _writable(fallback):
        os.environ["NUMBA_CACHE_DIR"] = fallback
        config = sys.modules.get("numba.core.config")
        if config is not None:
            config.CACHE_DIR = fallback


_numba_cache_fallback()

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
