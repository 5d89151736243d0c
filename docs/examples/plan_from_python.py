"""Plan one night from Python: load a scenario, plan it, walk its duties and trips, check it
independently, write plan.json and read it back.

    python docs/examples/plan_from_python.py                      # the bundled demo city
    python docs/examples/plan_from_python.py path/to/scenario.toml

Exits 0 when the checker finds no violation, 4 when it finds some (as ``fulfil check`` does).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import fulfil

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else ROOT / "scenarios" / "demo_city.toml"
    scenario = fulfil.load_scenario(path)  # a path, a dict, or text with format="toml"

    # A small wall-clock budget; time_limit_s=None with solution_limit=N is the deterministic budget.
    params = fulfil.PlanParams(time_limit_s=3.0, seed=1, workers=2)
    plan = fulfil.plan_night(scenario, params)  # a fulfil.Plan (frozen pydantic model)

    k = plan.kpis
    print(f"{plan.scenario}: {k.vehicles} vehicles, {k.trips} trips, {k.distance_km:.1f} km, cost {k.cost:.2f} RMB")
    print(f"orders served {k.orders_served:.1f} of {k.orders_total}, cost per order {k.cost_per_order} RMB, "
          f"2-hour compliance {k.two_hour_compliance:.1%}")

    # plan -> duties (one per vehicle) -> trips (depot, stops, back) -> stops
    for duty in plan.duties[:3]:
        print(f"  duty {duty.id} ({duty.tier}, {duty.vehicle_type} #{duty.vehicle}), cost {duty.cost.total:.2f}")
        for trip in duty.trips:
            stops = " ".join(stop.location for stop in trip.stops)
            print(f"    trip {trip.id} {trip.departure_hhmm}-{trip.return_hhmm} {trip.distance_km:.1f} km: {stops}")
    print(f"  ... {len(plan.duties)} duties; {len(plan.unserved)} unserved lines")

    violations = fulfil.check_plan(scenario, plan)  # the independent checker: [] when every rule holds

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "plan.json"
        fulfil.write_plan(plan, out)
        assert fulfil.read_plan(out) == plan  # plan.json is written from the model and read back through it

    if violations:
        print(fulfil.summarize(violations))
        return 4
    print("checker: no violation")
    return 0


if __name__ == "__main__":  # required: planning starts worker processes (forkserver), which import this file
    sys.exit(main(sys.argv[1:]))
