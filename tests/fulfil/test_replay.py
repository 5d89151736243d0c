"""Monitoring replay: logger readings against the plan's predicted temperature traces.

The plans here are built by hand in format version 2 (duties → trips → stops; validated by
fulfil.plan_model), with traces from the thermal model itself (solvers.thermal); a logger is per
vehicle, and its readings are matched with the trip driven at their time.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fulfil.errors import ScenarioError
from fulfil.plan_model import parse_plan, trip_rows
from fulfil.replay import (
    NO_TRACE,
    OUTSIDE_SPAN,
    UNKNOWN_VEHICLE,
    PlantedExcursion,
    Reading,
    parse_logger_text,
    read_logger_csv,
    replay,
    synthesize_logger,
)

T_OUT = 26.0  # °C, a warm night


def _stops(dep: float, crates: dict[str, list[int]], prefix: str) -> tuple[list[dict], float]:
    stops, t, n = [], dep, len(next(iter(crates.values())))
    onboard = {z: sum(c) for z, c in crates.items()}
    for i in range(n):
        t += 18.0
        serv = 6.0 + 0.5 * sum(c[i] for c in crates.values())
        for z in crates:
            onboard[z] -= crates[z][i]
        stops.append(dict(location=f"{prefix}{i + 1:02d}", arrival=round(t, 2), start=round(t, 2),
                          departure=round(t + serv, 2), leg_km=3.0,
                          delivered={z: {"crates": c[i], "kg": 8.0 * c[i]} for z, c in crates.items() if c[i]},
                          load_after={z: {"crates": k, "kg": 8.0 * k} for z, k in onboard.items()},
                          minutes_out_of_zone={}, products={}, minutes_since_cold_room=round(t - dep, 2)))
        t += serv
    return stops, t + 20.0


def _grid(dep: float, ret: float, stops: list[dict]) -> np.ndarray:
    g = set(np.arange(dep, ret + 1e-9, 5.0).round(2).tolist()) | {ret}
    for s in stops:
        g |= {s["arrival"], s["departure"]}
    return np.array(sorted(g))


def _resample(t_s, y, grid) -> list:
    v = np.interp(grid, np.asarray(t_s) / 60.0, np.asarray(y))
    return [None if not math.isfinite(x) else round(float(x), 3) for x in v]


def _trip(tid: str, vtype: str, depot: str, dep: float, crates: dict[str, list[int]], kind: str) -> dict:
    from solvers.thermal import (BoxParams, chilled_compartment, frozen_compartment, simulate_compartment,
                                 simulate_insulated_box)

    stops, ret = _stops(dep, crates, f"PP-{tid}-")
    grid = _grid(dep, ret, stops)
    comps = {}
    for zone, cr in crates.items():
        limit = 7.0 if zone == "chilled" else -15.0
        if kind == "reefer":
            params = chilled_compartment() if zone == "chilled" else frozen_compartment()
            res = simulate_compartment(params, T_OUT, dep * 60, [s["arrival"] * 60 for s in stops],
                                       [(s["departure"] - s["arrival"]) * 60 for s in stops], cr, end_s=ret * 60)
            air, prod, ho = _resample(res.t_s, res.air_c, grid), _resample(res.t_s, res.product_c, grid), res.handover_c
        else:
            res = simulate_insulated_box(BoxParams(), T_OUT, dep * 60, (ret - dep) * 60, 8.0 * sum(cr),
                                         stop_s=[s["arrival"] * 60 for s in stops], unload_kg=[8.0 * c for c in cr])
            air, prod, ho = _resample(res.t_s, res.pack_c, grid), _resample(res.t_s, res.product_c, grid), res.handover_c
        comps[zone] = dict(kind=kind, crates=sum(cr), t=grid.round(2).tolist(), air_c=air, product_c=prod,
                           limit_c=limit)
        for s, h, c in zip(stops, ho, cr, strict=True):
            if c:
                s.setdefault("cold_chain", {})[zone] = dict(handover_c=round(float(h), 2), in_spec=bool(h <= limit),
                                                            minutes_out_of_range=0.0, quality=0.99,
                                                            remaining_shelf_life_h=48.0, spoiled_crates=0.0,
                                                            spoilage_cost=0.0)
    km = 3.0 * len(stops) + 3.0
    return {"id": tid, "departure": dep, "return": ret, "distance_km": km, "return_leg_km": 3.0,
            "duration_h": round((ret - dep) / 60, 3), "cost": dict(distance=km, time=30.0, total=km + 30.0),
            "load_at_departure": {z: {"crates": sum(c), "kg": 8.0 * sum(c)} for z, c in crates.items()},
            "stops": stops, "thermal": {"compartments": comps}}


def _duty(did: str, tier: str, vtype: str, depot: str, trips: list[dict]) -> dict:
    dist = sum(t["cost"]["distance"] for t in trips)
    tim = sum(t["cost"]["time"] for t in trips)
    return {"id": did, "tier": tier, "vehicle_type": vtype, "vehicle": 0, "depot": depot,
            "distance_km": sum(t["distance_km"] for t in trips), "duration_h": sum(t["duration_h"] for t in trips),
            "cost": dict(fixed=100.0, distance=dist, time=tim, total=100.0 + dist + tim), "trips": trips}


KPIS = dict(vehicles=3, trunk_vehicles=1, last_mile_vehicles=2, trips=4, trunk_trips=1, last_mile_trips=3,
            distance_km=80.0, duration_h=9.0, cost=700.0, orders_total=13, orders_served=13.0, orders_complete=13,
            orders_unserved=0.0, cost_per_order=53.8, units_total=90, units_served=90, units_unserved=0,
            fill_rate=1.0, stops=13, two_hour_compliance=1.0, cold_chain_compliance=1.0,
            delivery_cost_share_of_sales=0.1)


@pytest.fixture(scope="module")
def plan() -> dict:
    """A v2 plan: FW01's reefer van (duty L-FW01-01) drives two trips with chilled + frozen traces, 30 min apart;
    FW02's e-trike one trip with an insulated box; a trunk trip without any trace."""
    first = _trip("L-FW01-01.1", "reefer_van", "FW01", 360.0,
                  {"chilled": [3, 2, 4, 1, 2, 3], "frozen": [1, 0, 2, 1, 0, 1]}, "reefer")
    second = _trip("L-FW01-01.2", "reefer_van", "FW01", first["return"] + 30.0,
                   {"chilled": [2, 3, 1], "frozen": [1, 1, 0]}, "reefer")
    box = _trip("L-FW02-01.1", "etrike", "FW02", 370.0, {"chilled": [2, 2, 3, 1]}, "insulated_box")
    trunk_trip = {"id": "T-CW1-01.1", "departure": 200.0, "return": 300.0, "distance_km": 40.0, "return_leg_km": 20.0,
                  "duration_h": 1.667, "cost": dict(distance=40.0, time=50.0, total=90.0),
                  "load_at_departure": {"chilled": {"crates": 40, "kg": 320.0}},
                  "stops": [dict(location="FW01", arrival=260.0, start=260.0, departure=280.0, leg_km=20.0,
                                 delivered={"chilled": {"crates": 40, "kg": 320.0}}, load_after={},
                                 minutes_out_of_zone={})]}
    doc = dict(format="fulfil-plan", format_version=2, code=0, scenario="unit", seed=0, kpis=KPIS,
               duties=[_duty("T-CW1-01", "trunk", "truck", "CW1", [trunk_trip]),
                       _duty("L-FW01-01", "last_mile", "reefer_van", "FW01", [first, second]),
                       _duty("L-FW02-01", "last_mile", "etrike", "FW02", [box])],
               unserved=[], assignment={})
    return parse_plan(doc).to_doc()


def _trip_of(plan: dict, tid: str) -> dict:
    return next(r for r in trip_rows(plan) if r["id"] == tid)


def test_bias_and_rmse_recovered_from_synthetic_logger(plan, tmp_path):
    """A synthetic logger with bias 0.5 °C and noise 0.3 °C (one name per vehicle: the van's two trips log under
    its duty id) replays to bias ≈ 0.5 and RMSE ≈ sqrt(0.5² + 0.3²) overall and per trip and compartment,
    MAE ≈ E|N(0.5, 0.3)|, with every reading matched to the trip driven at its time."""
    path = tmp_path / "logger.csv"
    path.write_text(synthesize_logger(plan, seed=1, bias_c=0.5, noise_c=0.3, every_min=0.2))
    readings = read_logger_csv(path)
    rep = replay(plan, readings)
    assert rep.readings == len(readings) > 2000
    assert rep.matched == len(readings) and rep.unmatched == 0
    o = rep.overall
    assert o.bias_c == pytest.approx(0.5, abs=0.03)
    assert o.rmse_c == pytest.approx(math.sqrt(0.5**2 + 0.3**2), abs=0.03)
    assert o.mae_c == pytest.approx(0.5, abs=0.04)  # E|X|, X ~ N(0.5, 0.3): 0.3·√(2/π)·e^(-25/18) + 0.5·(1-2Φ(-5/3))
    assert {r.vehicle for r in readings} == {"L-FW01-01", "L-FW02-01"}
    assert {(e.trip, e.compartment, e.kind) for e in rep.errors} == {
        ("L-FW01-01.1", "chilled", "reefer"), ("L-FW01-01.1", "frozen", "reefer"),
        ("L-FW01-01.2", "chilled", "reefer"), ("L-FW01-01.2", "frozen", "reefer"),
        ("L-FW02-01.1", "chilled", "insulated_box")}
    for e in rep.errors:
        assert e.n > 300 and abs(e.bias_c - 0.5) < 0.06 and abs(e.rmse_c - 0.583) < 0.06
    second = _trip_of(plan, "L-FW01-01.2")
    n2 = sum(1 for r in readings if r.vehicle == "L-FW01-01" and r.compartment == "chilled"
             and r.t >= second["departure"])
    assert next(e.n for e in rep.errors if (e.trip, e.compartment) == ("L-FW01-01.2", "chilled")) == n2
    assert "RMSE" in rep.summary() and "L-FW02-01.1" in rep.errors_csv()
    assert replay(parse_plan(plan), readings).overall == o  # the Plan model gives the same


def test_vehicle_form_and_iso_timestamps_give_the_same_replay(plan, tmp_path):
    """Naming vehicles `vehicle_type:index` and writing ISO timestamps changes nothing: same matches, same errors."""
    clock = parse_logger_text(synthesize_logger(plan, seed=4))
    path = tmp_path / "iso.csv"
    path.write_text(synthesize_logger(plan, seed=4, vehicle_key="vehicle", iso_date="2024-06-01"))
    text = path.read_text()
    assert "reefer_van:0,chilled,2024-06-01T06:00:00" in text
    iso = read_logger_csv(path)
    a, b = replay(plan, clock), replay(plan, iso)
    assert b.matched == a.matched == len(iso)
    assert b.overall.rmse_c == pytest.approx(a.overall.rmse_c, abs=1e-9)


def test_planted_excursion_is_flagged_at_the_right_stop(plan):
    """Readings planted 3 °C above the chilled hand-over limit during stop 3 of the van's first trip are reported
    as one excursion at that stop of that trip (location, time within its service span, peak ≥ limit + 3), not
    predicted by the plan, with goods on board; nothing else in that compartment is flagged."""
    s3 = _trip_of(plan, "L-FW01-01.1")["stops"][2]
    text = synthesize_logger(plan, seed=2, bias_c=0.0, noise_c=0.2,
                             excursion=PlantedExcursion("L-FW01-01.1", 3, zone="chilled"))
    rep = replay(plan, parse_logger_text(text))
    chilled = [x for x in rep.excursions if x.trip == "L-FW01-01.1" and x.compartment == "chilled"]
    assert len(chilled) == 1
    x = chilled[0]
    assert (x.stop, x.location, x.where) == (3, s3["location"], "at stop")
    assert s3["arrival"] <= x.t_first <= x.t_peak <= x.t_last <= s3["departure"]
    assert x.peak_c >= 10.0 and x.limit_c == 7.0 and x.on_board and not x.expected
    # the ice-pack box warms above 7 °C only on the empty way back, as the plan predicts
    assert all(x.where == "return" and not x.on_board and x.expected for x in rep.excursions
               if x.trip == "L-FW02-01.1")
    summary = rep.summary()
    assert s3["location"] in summary and "excursion" in summary
    assert f"L-FW01-01.1,L-FW01-01,reefer_van,chilled,3,{s3['location']},at stop" in rep.excursions_csv()


def test_planted_excursion_on_the_second_trip_is_attributed_to_it(plan):
    """The van logs under one name all night: an excursion planted at stop 2 of its second trip is reported on
    that trip, not on the first."""
    s2 = _trip_of(plan, "L-FW01-01.2")["stops"][1]
    text = synthesize_logger(plan, seed=5, bias_c=0.0, noise_c=0.2, vehicle_key="vehicle",
                             excursion=PlantedExcursion("L-FW01-01.2", s2["location"], zone="chilled"))
    rep = replay(plan, parse_logger_text(text))
    hits = [x for x in rep.excursions if x.compartment == "chilled" and not x.expected and x.where == "at stop"]
    assert [(x.trip, x.duty, x.stop, x.location) for x in hits] == [("L-FW01-01.2", "L-FW01-01", 2, s2["location"])]


def test_excursion_on_the_leg_and_on_the_way_back(plan):
    """A reading above the limit while driving to stop 2 is attributed to the leg to stop 2; one after the last
    stop to the return to the depot (with no goods of the zone left on board) — of the trip driven then."""
    first, second = _trip_of(plan, "L-FW01-01.1"), _trip_of(plan, "L-FW01-01.2")
    s1, s2, last = first["stops"][0], first["stops"][1], first["stops"][-1]
    t_leg = (s1["departure"] + s2["arrival"]) / 2
    t_back = last["departure"] + 5.0
    t_back2 = second["stops"][-1]["departure"] + 5.0
    rep = replay(plan, [Reading("L-FW01-01", "chilled", t_leg, 9.0), Reading("L-FW01-01", "chilled", t_back, 8.0),
                        Reading("L-FW01-01", "chilled", t_back2, 8.5)])
    got = {(x.trip, x.stop, x.location, x.where, x.on_board) for x in rep.excursions}
    assert got == {("L-FW01-01.1", 2, s2["location"], "leg to", True), ("L-FW01-01.1", None, "FW01", "return", False),
                   ("L-FW01-01.2", None, "FW01", "return", False)}


def test_unmatched_readings_are_counted_by_reason(plan):
    """Readings of an unknown vehicle, of a trip or compartment without a trace, or outside every trip of the
    vehicle (before its first, between two, or of a named trip at another trip's time) are counted as unmatched
    (by reason) and left out of the error statistics."""
    reefer = _trip_of(plan, "L-FW01-01.1")
    t0 = reefer["thermal"]["compartments"]["chilled"]["t"][0]
    t1 = reefer["thermal"]["compartments"]["chilled"]["t"][-1]
    readings = [
        Reading("L-FW01-01", "chilled", t0 + 10.0, 3.0),  # matched
        Reading("reefer_van:0", "frozen", t0 + 10.0, -19.0),  # matched via vehicle_type:index
        Reading("L-FW01-01.1", "chilled", t0 + 11.0, 3.0),  # matched via the trip id
        Reading("L-FW01-01", "chilled", t0 - 30.0, 3.0),  # before departure
        Reading("L-FW01-01", "chilled", t1 + 0.5, 3.0),  # after the first trip, before the second
        Reading("L-FW01-01.2", "chilled", t0 + 10.0, 3.0),  # the second trip named, at the first trip's time
        Reading("L-FW09-09", "chilled", t0 + 10.0, 3.0),  # unknown duty
        Reading("ghost:3", "chilled", t0 + 10.0, 3.0),  # unknown vehicle
        Reading("T-CW1-01", "chilled", 230.0, 3.0),  # trip without thermal
        Reading("L-FW02-01", "frozen", t0 + 10.0, -19.0),  # no frozen compartment on the e-trike
    ]
    rep = replay(plan, readings)
    assert rep.matched == 3 and rep.overall.n == 3
    assert rep.unmatched_by_reason == {OUTSIDE_SPAN: 3, UNKNOWN_VEHICLE: 2, NO_TRACE: 2}
    assert rep.unknown_vehicles == ["L-FW09-09", "ghost:3"]
    text = rep.summary()
    assert "7 unmatched" in text and "L-FW09-09" in text


def test_bad_logger_rows_give_located_errors(tmp_path):
    """Every bad row is reported with file name, line and column; good rows are not."""
    path = tmp_path / "bad_logger.csv"
    path.write_text("vehicle,compartment,timestamp,temp_c\n"
                    "L-FW01-01,chilled,06:02,3.1\n"
                    "L-FW01-01,chilled,6h05,3.2\n"  # line 3: timestamp
                    "L-FW01-01,chiled,06:06,3.2\n"  # line 4: compartment
                    "\n"
                    "L-FW01-01,chilled,06:08,warm\n"  # line 6: temperature
                    ",frozen,2024-06-01T06:10:00,-19\n"  # line 7: vehicle
                    "L-FW01-01,chilled\n"  # line 8: too short
                    "L-FW01-01,frozen,06:61,nan\n")  # line 9: two problems
    with pytest.raises(ScenarioError) as ei:
        read_logger_csv(path)
    msg = str(ei.value)
    for expected in ("bad_logger.csv: line 3: timestamp: '6h05'", "bad_logger.csv: line 4: compartment: 'chiled'",
                     "bad_logger.csv: line 6: temp_c: 'warm' is not a number", "bad_logger.csv: line 7: vehicle",
                     "bad_logger.csv: line 8: 2 field(s)", "bad_logger.csv: line 9: timestamp: '06:61'",
                     "bad_logger.csv: line 9: temp_c: nan"):
        assert expected in msg, msg
    assert "line 2" not in msg and "line 5" not in msg
    (tmp_path / "nohead.csv").write_text("truck,chilled,06:00,3\n")
    with pytest.raises(ScenarioError, match=r"nohead.csv: line 1: missing column\(s\) vehicle, compartment"):
        read_logger_csv(tmp_path / "nohead.csv")
    with pytest.raises(ScenarioError, match="logger file not found"):
        read_logger_csv(tmp_path / "missing.csv")


def test_timestamps_clock_after_midnight_and_iso_next_day():
    """`HH:MM[:SS]` may pass 24:00; ISO times count from 00:00 of the first date seen, so the next day adds 1440."""
    rs = parse_logger_text("Vehicle,Compartment,Timestamp,Temp_C,extra\n"
                           "a,chilled,2024-06-01T23:30:00,3,x\n"
                           "a,chilled,2024-06-02T00:30:30,3,x\n"
                           "a,chilled,24:15,3,x\n"
                           "a,Frozen,05:30:15,-20,x\n")
    assert [r.t for r in rs] == pytest.approx([1410.0, 1470.5, 1455.0, 330.25])
    assert [r.line for r in rs] == [2, 3, 4, 5] and rs[3].compartment == "frozen"


def test_cli_synthesize_then_replay(plan, tmp_path, capsys):
    """`fulfil replay --synthesize` writes a logger file; `fulfil replay SCENARIO PLAN LOGGER --out DIR` prints the
    report and writes replay.csv and replay_errors.csv; a plan for another scenario is refused with exit 2."""
    import json
    from pathlib import Path

    from fulfil.cli import main
    from fulfil.scenario import load_scenario

    scen_path = Path(__file__).resolve().parents[2] / "scenarios" / "demo_city.toml"
    s = load_scenario(scen_path)
    p = json.loads(json.dumps(plan))
    p["scenario"] = s.name
    fws = [f.id for f in s.forward_warehouses]
    pps = [x.id for x in s.pickup_points]
    p["duties"] = [d for d in p["duties"] if d["tier"] == "last_mile"]
    for i, d in enumerate(p["duties"]):
        d["depot"] = fws[i % len(fws)]
        for k, r in enumerate(d["trips"]):
            for j, st in enumerate(r["stops"]):
                st["location"] = pps[(7 * i + 3 * k + j) % len(pps)]
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(p))
    logger = tmp_path / "logger.csv"
    assert main(["replay", "--synthesize", str(logger), str(scen_path), str(plan_path), "--seed", "3"]) == 0
    assert logger.read_text().startswith("vehicle,compartment,timestamp,temp_c\n")
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["replay", str(scen_path), str(plan_path), str(logger), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "RMSE" in text and "0 unmatched" in text
    assert (out / "replay.csv").read_text().startswith("trip,duty,vehicle_type,compartment,stop")
    errors = (out / "replay_errors.csv").read_text()
    assert "L-FW01-01.1,chilled,reefer" in errors and "L-FW01-01.2,chilled,reefer" in errors
    p["scenario"] = "somewhere_else"
    plan_path.write_text(json.dumps(p))
    assert main(["replay", str(scen_path), str(plan_path), str(logger)]) == 2
    assert "made for scenario 'somewhere_else'" in capsys.readouterr().err
    assert main(["replay", str(scen_path), str(plan_path)]) == 2  # neither LOGGER_CSV nor --synthesize
