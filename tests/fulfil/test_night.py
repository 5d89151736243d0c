"""fulfil.night: the compiled night — read-only arrays the stages take instead of the pydantic scenario."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel

from fulfil.night import CompiledNight, compile_night
from fulfil.scenario import load_scenario
from fulfil.scenario.schema import Scenario

TINY = Path(__file__).resolve().parents[1] / "data" / "checker" / "tiny.toml"


@pytest.fixture(scope="module")
def tiny():
    return load_scenario(TINY)


@pytest.fixture(scope="module")
def night(tiny):
    return compile_night(tiny)


def _edited(s, edit):
    doc = s.model_dump()
    edit(doc)
    return Scenario.model_validate(doc)


def _arrays(obj, path="night"):
    if isinstance(obj, np.ndarray):
        yield path, obj
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from _arrays(getattr(obj, f.name), f"{path}.{f.name}")


def test_every_array_is_read_only(night):
    arrays = dict(_arrays(night))
    assert {"night.weather_c", "night.service_fixed_min", "night.window_open", "night.bodies.k_w_m2k",
            "night.net.demand", "night.net.vehicles.crates"} <= set(arrays)
    for path, a in arrays.items():
        assert not a.flags.writeable, path
    with pytest.raises(ValueError):
        night.service_fixed_min[0] = 1.0
    with pytest.raises(ValueError):
        night.net.demand[0, 0] += 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        night.name = "other"  # type: ignore[misc]


def test_holds_no_pydantic_model(night):
    """The stages read the night, never the scenario: nothing in it is a pydantic model."""
    def walk(obj, depth=0):
        assert not isinstance(obj, BaseModel), type(obj)
        if depth > 3:
            return
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            for f in dataclasses.fields(obj):
                walk(getattr(obj, f.name), depth + 1)
        elif isinstance(obj, (tuple, list)):
            for x in obj:
                walk(x, depth + 1)

    walk(night)
    assert not any(isinstance(v, BaseModel) for v in vars(night.travel).values())


def test_sites_service_and_windows(tiny, night):
    """Central: no service, no window. Forward: trunk unloading rule and the receiving window. Pickup
    points: the shop rule, lockers the locker rule, their own windows."""
    pol = tiny.policies
    n_c, n_f = len(tiny.central_warehouses), len(tiny.forward_warehouses)
    assert night.n_sites == n_c + n_f + len(tiny.pickup_points) == 8
    assert night.service_fixed_min[0] == 0 and night.window_close[0] == np.inf
    for f in range(n_f):
        i = night.travel.forward_index(f)
        assert night.service_fixed_min[i] == pol.trunk_unload_fixed_min
        assert night.service_per_crate_min[i] == pol.trunk_unload_per_crate_min
        assert (night.window_open[i], night.window_close[i]) == (pol.trunk_receiving.open, pol.trunk_receiving.close)
    for p, pp in enumerate(tiny.pickup_points):
        i = night.travel.pickup_index(p)
        locker = pp.kind == "locker"
        assert night.service_fixed_min[i] == (pol.locker_fixed_min if locker else pol.service_fixed_min)
        assert night.service_per_crate_min[i] == (pol.locker_per_cell_min if locker else pol.service_per_crate_min)
        assert (night.window_open[i], night.window_close[i]) == (pp.window.open, pp.window.close)
    assert night.window_open[night.travel.pickup_index(1)] == 9 * 60  # P2 opens at 09:00


def test_policy_weather_bodies_and_classes(tiny, night):
    pol = tiny.policies
    assert night.policy.promise_minutes == 120.0
    assert night.policy.trunk_departure == 90.0 and night.policy.cold_chain_model is False
    assert night.weather_c.shape == (24,) and night.weather_c.tolist() == list(tiny.weather.hourly_c)
    assert night.bodies.k_w_m2k.shape == (len(tiny.vehicle_types),)
    assert night.bodies.movable.tolist() == [False] * len(tiny.vehicle_types)
    assert night.policy.reload_fixed_min == pol.reload_fixed_min
    assert [c.zone if c is not None else None for c in night.product_class] == ["frozen", "chilled", None]
    assert night.default_profile == tiny.speed_profiles[0].id


def test_reload_minutes(tiny, night):
    pol = tiny.policies
    assert night.reload_min(0) == pytest.approx(pol.reload_fixed_min)
    assert night.reload_min(40) == pytest.approx(pol.reload_fixed_min + 40 * pol.reload_per_crate_min)
    slow = compile_night(_edited(tiny, lambda d: d["policies"].update(reload_fixed_min=30.0, reload_per_crate_min=0.5)))
    assert slow.reload_min(10) == pytest.approx(35.0)


def test_digest_is_stable_and_follows_the_scenario(tiny, night):
    again = compile_night(load_scenario(TINY))
    assert again.digest == night.digest
    assert compile_night(Scenario.model_validate(tiny.model_dump())).digest == night.digest
    assert isinstance(night.digest, str) and len(night.digest) == 16
    changed = compile_night(_edited(tiny, lambda d: d["policies"].update(service_fixed_min=6.0)))
    assert changed.digest != night.digest
    more = compile_night(_edited(tiny, lambda d: d["demand"][0]["items"].update(rice=11)))
    assert more.digest not in (night.digest, changed.digest)


def test_service_policy_changes_the_arrays(tiny, night):
    changed = compile_night(_edited(tiny, lambda d: d["policies"].update(service_fixed_min=6.5)))
    p1, p3 = night.travel.pickup_index(0), night.travel.pickup_index(2)
    assert changed.service_fixed_min[p1] == 6.5 and night.service_fixed_min[p1] == tiny.policies.service_fixed_min
    assert changed.service_fixed_min[p3] == night.service_fixed_min[p3]  # the locker keeps its rule


def test_is_a_compiled_night(night):
    assert isinstance(night, CompiledNight)
    assert night.name == "tiny"
