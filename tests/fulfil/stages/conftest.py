"""Fixtures of the stage tests: the tiny checker scenario and the small generated city, compiled,
scenarios edited in code, and the stages run in order on the in-process executor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

TINY = Path(__file__).resolve().parents[2] / "data" / "checker" / "tiny.toml"


def _edited(scenario, edit: Callable[[dict], Any]):
    """A copy of ``scenario`` with ``edit`` applied to its dump, validated again (cross-record checks run)."""
    from fulfil.scenario.schema import Scenario

    doc = scenario.model_dump()
    edit(doc)
    return Scenario.model_validate(doc)


def _find(items: list[dict], id_: str) -> dict:
    return next(x for x in items if x["id"] == id_)


@dataclass
class Stages:
    """What the stages produced, in ``plan_night``'s order (no cold-chain repair unless asked); ``routed``
    has its last-mile trips on vehicles (:func:`fulfil.stages.waves.chain_trips`)."""

    night: Any
    alloc: Any
    jobs_by_fw: dict
    job_unserved: list
    subs: list
    last_mile: Any
    routed: Any = None
    extra: dict = field(default_factory=dict)


def _run(night, params=None, *, trunk: bool = True, repair: bool = False) -> Stages:
    from fulfil.executor import SerialBackend
    from fulfil.pipeline import PlanParams
    from fulfil.stages.allocate import allocate
    from fulfil.stages.cold_repair import repair_cold_chain
    from fulfil.stages.jobs import last_mile_jobs
    from fulfil.stages.last_mile import route_last_mile
    from fulfil.stages.subproblems import last_mile_subproblems
    from fulfil.stages.trip_work import TripWork
    from fulfil.stages.trunk import route_trunk
    from fulfil.stages.waves import chain_trips

    params = params or PlanParams(time_limit_s=None, solution_limit=30, workers=1)
    ex = SerialBackend()
    alloc = allocate(night)
    jobs_by_fw, job_unserved = last_mile_jobs(night, alloc.assign, alloc.units)
    subs = last_mile_subproblems(night, jobs_by_fw)
    lm = route_last_mile(night, subs, params, None, ex)
    if repair:
        lm = repair_cold_chain(night, subs, lm, params, None, ex)
    out = Stages(night, alloc, jobs_by_fw, job_unserved, subs, lm)
    if trunk:
        out.routed = route_trunk(night, alloc.assign, lm, params, None, ex)
        out.routed.trips = chain_trips(night, out.routed.trips, TripWork(night))
    return out


@pytest.fixture(scope="session")
def edited():
    """``edited(scenario, fn)``: ``fn`` edits the scenario's ``model_dump()`` in place; returns the
    re-validated scenario.  ``edited.find(list, id)`` picks a record of the dump by id."""
    _edited.find = _find
    return _edited


@pytest.fixture(scope="session")
def run_stages():
    """``run_stages(night, params=None, trunk=True, repair=False)`` → :class:`Stages`, on the serial backend."""
    return _run


@pytest.fixture(scope="session")
def tiny():
    """tiny.toml with one trip per vehicle (``max_trips = 1``): the stage tests count the routed trips
    as vehicles; tests/fulfil/stages/test_waves.py raises it again."""
    from fulfil.scenario import load_scenario

    return _edited(load_scenario(TINY), lambda d: d["policies"].update(max_trips=1))


@pytest.fixture(scope="session")
def tiny_night(tiny):
    from fulfil.night import compile_night

    return compile_night(tiny)


@pytest.fixture(scope="session")
def small(small_city):
    from fulfil.scenario import load_scenario

    return load_scenario(small_city)


@pytest.fixture(scope="session")
def small_night(small):
    from fulfil.night import compile_night

    return compile_night(small)
