"""Stage 2 (fulfil.stages.jobs): what each vehicle visit hands over."""

from __future__ import annotations

import numpy as np

from fulfil.night import compile_night
from fulfil.stages.allocate import allocate
from fulfil.stages.jobs import crates_kg, last_mile_jobs, vehicle_fits, zone_units

DUMPLINGS, MILK, RICE = 0, 1, 2
P1, P3 = 0, 2
FROZEN, CHILLED, AMBIENT = 0, 1, 2


def _jobs(night):
    a = allocate(night)
    jobs, unserved = last_mile_jobs(night, a.assign, a.units)
    return a, jobs, unserved


def test_every_allocated_unit_is_in_one_job_or_an_unserved_line(tiny_night):
    """Conservation: the jobs of each pickup point plus its unserved lines hold exactly its allocated units;
    each job sits at its pickup point's site at the warehouse it was assigned to."""
    travel = tiny_night.travel
    a, jobs, unserved = _jobs(tiny_night)
    got = np.zeros_like(a.units)
    for f, js in jobs.items():
        for j in js:
            assert a.assign[j.owner] == f
            assert j.site == travel.pickup_index(j.owner)
            for k, q in j.units.items():
                got[j.owner, k] += q
    for u in unserved:
        got[u.pickup, u.product] += u.units
    assert (got == a.units).all()


def test_one_job_per_pickup_when_one_vehicle_carries_every_zone(tiny_night):
    """FW1's reefer has all three zones, so each of its pickup points is one visit; crates are the ceiling of
    units / units per crate per zone and kg the sum of unit weights."""
    net = tiny_night.net
    a, jobs, _ = _jobs(tiny_night)
    p1 = [j for j in jobs[0] if j.owner == P1]
    assert len(p1) == 1
    j = p1[0]
    assert j.zones == (FROZEN, CHILLED, AMBIENT)
    u = a.units[P1]
    assert j.crates.tolist() == [int(np.ceil(u[DUMPLINGS] / 16)), int(np.ceil(u[MILK] / 20)), int(np.ceil(u[RICE] / 8))]
    assert np.allclose(j.kg, [u[DUMPLINGS] * 0.9, u[MILK] * 0.5, u[RICE] * 2.5])
    assert j.units == {DUMPLINGS: int(u[DUMPLINGS]), MILK: int(u[MILK]), RICE: int(u[RICE])}
    assert net.product_zone.tolist() == [FROZEN, CHILLED, AMBIENT]


def test_locker_with_fewer_cells_than_crates(tiny, edited):
    """Locker P3 with 1 chilled cell for 2 crates of milk: the milk is unserved as locker_cells_exceeded,
    the zones that fit still go."""
    def edit(d):
        edited.find(d["pickup_points"], "P3")["cells"]["chilled"] = 1

    night = compile_night(edited(tiny, edit))
    a, jobs, unserved = _jobs(night)
    lines = [u for u in unserved if u.pickup == P3]
    assert [(u.product, u.units, u.reason) for u in lines] == [(MILK, int(a.units[P3, MILK]), "locker_cells_exceeded")]
    assert "2 chilled crates but only 1 cells" in lines[0].detail
    p3 = [j for js in jobs.values() for j in js if j.owner == P3]
    assert p3 and all(j.crates[CHILLED] == 0 and MILK not in j.units for j in p3)
    assert sum(j.units.get(DUMPLINGS, 0) for j in p3) == a.units[P3, DUMPLINGS]


def test_pickup_no_single_vehicle_carries_is_split_cold_and_ambient(tiny, edited):
    """FW1's reefer loses its ambient compartment, so FW1's van (chilled + ambient) is the only ambient carrier
    there and no vehicle of FW1 takes frozen and ambient together: P1 (dumplings, milk, rice) becomes a cold job (frozen + chilled) and an ambient
    job at the same site, each carried whole by some vehicle of FW1."""
    def edit(d):
        r = edited.find(d["vehicle_types"], "FW1_reefer")
        r["compartments"] = [c for c in r["compartments"] if c["zone"] != "ambient"]

    night = compile_night(edited(tiny, edit))
    a, jobs, unserved = _jobs(night)
    p1 = [j for j in jobs[0] if j.owner == P1]
    assert sorted(j.zones for j in p1) == [(FROZEN, CHILLED), (AMBIENT,)]
    assert len({j.site for j in p1}) == 1
    cold = next(j for j in p1 if j.zones == (FROZEN, CHILLED))
    amb = next(j for j in p1 if j.zones == (AMBIENT,))
    assert set(cold.units) == {DUMPLINGS, MILK} and set(amb.units) == {RICE}
    assert cold.crates[AMBIENT] == 0 and amb.crates[FROZEN] == amb.crates[CHILLED] == 0
    v = night.net.vehicles
    fw1_types = [t for t in range(len(v.ids)) if v.tier[t] == 1 and int(v.home[t]) == night.travel.forward_index(0)]
    for j in p1:
        assert any(vehicle_fits(night.net, t, j.zones, j.crates, j.kg) for t in fw1_types)
    assert not [u for u in unserved if u.pickup == P1]


def test_zone_no_vehicle_carries_is_no_compatible_vehicle(tiny, edited):
    """FW2's only van has no frozen compartment: P4's dumplings are unserved as no_compatible_vehicle, its
    milk and rice still get a job."""
    def edit(d):
        r = edited.find(d["vehicle_types"], "FW2_reefer")
        r["compartments"] = [c for c in r["compartments"] if c["zone"] != "frozen"]

    night = compile_night(edited(tiny, edit))
    a, jobs, unserved = _jobs(night)
    lines = [u for u in unserved if u.pickup == 3]
    assert {(u.product, u.reason) for u in lines} == {(DUMPLINGS, "no_compatible_vehicle")}
    assert "frozen" in lines[0].detail and "FW2" in lines[0].detail
    p4 = [j for j in jobs[1] if j.owner == 3]
    assert p4 and all(DUMPLINGS not in j.units for j in p4)
    assert sum(j.units.get(MILK, 0) + j.units.get(RICE, 0) for j in p4) == a.units[3, MILK] + a.units[3, RICE]


def test_helpers_zone_units_and_crates_kg(tiny_night):
    net = tiny_night.net
    row = np.array([17, 0, 9])
    assert zone_units(row, net, (FROZEN, AMBIENT)) == {DUMPLINGS: 17, RICE: 9}
    assert zone_units(row, net, (CHILLED,)) == {}
    c, kg = crates_kg({DUMPLINGS: 17, RICE: 8}, net)
    assert c.tolist() == [2, 0, 1]  # 17/16 → 2 crates, 8/8 → exactly 1
    assert np.allclose(kg, [17 * 0.9, 0.0, 20.0])
