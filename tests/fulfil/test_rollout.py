"""The rollout simulator: region loader, siting, phasing, daily simulation, paired comparison, command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fulfil.errors import ScenarioError
from fulfil.rollout.compare import paired_test
from fulfil.rollout.region import load_region
from fulfil.rollout.synth import SynthConfig, write_region

ROOT = Path(__file__).resolve().parents[2]
TINY = SynthConfig(name="tiny", seed=5, communities=40, forward_sites=5, competitors=6, households_mean=300,
                   pilot_communities=10, days=2, solution_limit=10)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    """A small synthetic region (40 communities, 5 forward sites) in the Yuelu boundary."""
    out = tmp_path_factory.mktemp("tiny_region")
    write_region(out, TINY)
    return out


@pytest.fixture(scope="module")
def tiny(tiny_dir):
    return load_region(tiny_dir / "region.toml")


@pytest.fixture(scope="module")
def plans(tiny):
    from fulfil.rollout.command import site_variants

    return site_variants(tiny, ["lockers", "no_lockers", "extra_fw"])


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst / "region.toml"


# --------------------------------------------------------------------------- loader


def test_bundled_region_loads():
    """The bundled Yuelu region is valid: ~300 communities, 20 candidate forward sites, lockers and shops."""
    r = load_region(ROOT / "scenarios" / "rollout_region" / "region.toml")
    assert len(r.communities) == 300 and len(r.forward_sites) == 20
    kinds = {p.kind for p in r.pickup_sites}
    assert kinds == {"leader_shop", "locker"}
    assert 100 < r.area_km2 < 500
    assert r.doc.simulation.variants[0] == "lockers"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: _edit(d / "communities.csv", "C002,,", "C002,,999,"),
         "communities.csv: row 3: lon: "),
        (lambda d: _edit(d / "communities.csv", "\nC004,,112.", "\nC004,,113."),
         "communities.csv: row 5: lon/lat: "),
        (lambda d: _edit(d / "region.toml", "penetration =", "penetraton ="),
         "region.toml: demand.penetraton: unknown field (did you mean 'penetration'?)"),
        (lambda d: _edit(d / "region.toml", "pilot = 0.15,", "pilot = 1.5,"),
         "region.toml: demand.penetration.pilot: Input should be less than or equal to 1"),
        (lambda d: (d / "boundary.geojson").write_text(json.dumps(
            {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[112.9, 28.1], [112.95, 28.2]]}})),
         "boundary.geojson: geometry: expected a Polygon or MultiPolygon boundary"),
        (lambda d: _edit(d / "region.toml", 'fleet = "split"', 'fleet = "splt"'),
         "region.toml: variants.split_fleet.fleet: unknown fleet template 'splt'"),
        (lambda d: _edit(d / "pickup_sites.csv", ",locker,", ",locker_box,"),
         "pickup_sites.csv: row "),
    ],
    ids=["csv_value", "outside_boundary", "unknown_field", "range", "geojson_type", "reference", "csv_enum"],
)
def test_region_loader_reports_located_problems(tiny_dir, tmp_path, mutate, expected):
    """A bad region input raises ScenarioError whose lines read `file: [row N: ]field.path: message`."""
    path = _copy(tiny_dir, tmp_path / "r")
    mutate(path.parent)
    with pytest.raises(ScenarioError) as exc:
        load_region(path)
    assert any(p.startswith(expected) for p in exc.value.problems), exc.value.problems


def test_region_loader_reports_every_problem_at_once(tiny_dir, tmp_path):
    """Independent problems in the TOML, a CSV table and the geography are all reported together."""
    path = _copy(tiny_dir, tmp_path / "r")
    _edit(path, "items_per_order = 2.2", "items_per_order = 0.5")
    _edit(path.parent / "forward_sites.csv", "FW02,", "FW01,")
    rows = (path.parent / "communities.csv").read_text().splitlines()
    parts = rows[5].split(",")
    parts[2], parts[3] = parts[3], parts[2]  # swap lon and lat
    rows[5] = ",".join(parts)
    (path.parent / "communities.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(ScenarioError) as exc:
        load_region(path)
    probs = exc.value.problems
    assert any(p.startswith("region.toml: demand.items_per_order:") for p in probs)
    assert any(p.startswith("forward_sites.csv: row 3: id: duplicate id 'FW01'") for p in probs)
    assert any(p.startswith("communities.csv: row 6: lat:") and "swapped" in p for p in probs)


# --------------------------------------------------------------------------- siting and phasing


def test_siting_respects_walking_radius_and_reach(tiny, plans):
    """Every served community is within the walking radius of its pickup point, and its forward warehouse
    reaches both the pickup point and the community by a direct peak-speed drive within reach_minutes."""
    from geo.coords import haversine_m

    from fulfil.rollout.siting import peak_kmh, road_km

    st = tiny.doc.siting
    kmh = peak_kmh(tiny)
    for variant, ps in plans.items():
        for plan in ps:
            assert plan.alloc, (variant, plan.phase)
            for c, p, share in plan.alloc:
                com, pp = tiny.communities[c], tiny.pickup_sites[p]
                assert share > 0
                walk = float(haversine_m(com.lon, com.lat, pp.lon, pp.lat))
                assert walk <= st.walk_radius_m * 1.001, (variant, plan.phase, com.id, pp.id, walk)
                fw = tiny.forward_sites[plan.pp_fw[p]]
                pts = np.array([[pp.lon, pp.lat], [com.lon, com.lat]])
                minutes = road_km(tiny, pts, np.array([[fw.lon, fw.lat]]))[:, 0] / kmh * 60.0
                assert (minutes <= st.reach_minutes + 1e-6).all(), (variant, plan.phase, minutes)
            if variant == "no_lockers":
                assert all(tiny.pickup_sites[p].kind == "leader_shop" for p in plan.open_pp)


def test_phases_are_nested(plans):
    """Each phase keeps the previous phase's communities, pickup points and forward warehouses."""
    for variant, ps in plans.items():
        assert [p.phase for p in ps] == ["pilot", "surrounding", "full"]
        for a, b in zip(ps, ps[1:]):
            assert set(a.communities) <= set(b.communities), variant
            assert set(a.open_pp) <= set(b.open_pp), variant
            assert set(a.open_fw) <= set(b.open_fw), variant
        assert len(ps[0].communities) <= ps[0].communities.size <= TINY.pilot_communities


def test_extra_forward_warehouse_variant_opens_one_more(plans):
    """The extra-FW variant serves the same phase areas as the baseline with exactly one more warehouse."""
    for a, b in zip(plans["lockers"], plans["extra_fw"]):
        assert np.array_equal(a.communities, b.communities)
        assert len(b.open_fw) == len(a.open_fw) + 1


def test_pilot_is_the_best_scored_core(tiny):
    """The pilot lies within pilot_radius_km of its seed and holds the best-scored communities there."""
    from fulfil.rollout.phasing import community_scores, pilot_communities

    seed, pilot = pilot_communities(tiny)
    score = community_scores(tiny)
    d = np.hypot(*(tiny.community_xy - tiny.community_xy[seed]).T)
    inside = np.flatnonzero(d <= tiny.doc.phasing.pilot_radius_km * 1000)
    assert set(pilot) <= set(inside)
    left_out = np.setdiff1d(inside, pilot)
    if len(left_out):
        assert score[pilot].min() >= score[left_out].max()


# --------------------------------------------------------------------------- simulation


def test_tiny_simulation_every_daily_plan_passes_the_checker(tiny, plans):
    """One phase × 3 days: each day is a valid nightly Scenario, planned and checked with zero violations."""
    from fulfil.rollout.simulate import day_scenario, phase_network, simulate
    from fulfil.scenario.schema import cross_check

    net = phase_network(tiny, plans["lockers"][1], tiny.doc.variants["lockers"], "lockers", days=3, seed=3,
                        solution_limit=10)
    s, dem = day_scenario(net, 0)
    assert cross_check(s) == []
    assert all(p.forward_warehouse for p in s.pickup_points)
    res = simulate([net], 3, workers=1)
    assert [r["day"] for r in res] == [0, 1, 2]
    for r in res:
        assert r["violations"] == 0, r["violation_causes"]
        assert r["orders_served"] > 0 and r["orders_served"] <= r["orders_demand"]
        assert 0 < r["cost_share_of_sales"] < 10 and r["cost_per_order"] > 0
        assert r["two_hour_compliance"] == 1.0


def test_simulation_is_deterministic_and_uses_common_random_numbers(tiny, plans):
    """Same seed → same day metrics (1 or 2 worker processes); variants see the same community demand;
    another seed changes the demand."""
    from fulfil.rollout.simulate import day_demand, phase_network, simulate

    def net(variant: str, seed: int, k: int = 2) -> dict:
        return phase_network(tiny, plans[variant][k], tiny.doc.variants[variant], variant, days=2, seed=seed,
                             solution_limit=10)

    strip = lambda rs: [{k: v for k, v in r.items() if k != "wall_s"} for r in rs]  # noqa: E731
    a = simulate([net("lockers", 7)], 2, workers=1)
    b = simulate([net("lockers", 7)], 2, workers=2)
    assert strip(a) == strip(b)
    base, other = day_demand(net("lockers", 7), 1), day_demand(net("no_lockers", 7), 1)
    assert base["demand_orders"] == other["demand_orders"]
    assert day_demand(net("lockers", 8), 1)["demand_orders"] != base["demand_orders"]


# --------------------------------------------------------------------------- comparison


def test_paired_comparison_flags_a_planted_difference_and_not_a_null_one():
    """A planted +0.5 shift under large shared day noise is significant; a zero-mean difference is not."""
    rng = np.random.default_rng(11)
    day_noise = rng.normal(10.0, 3.0, 30)  # shared by both variants (common random numbers)
    base = day_noise + rng.normal(0, 0.1, 30)
    shifted = day_noise + 0.5 + rng.normal(0, 0.1, 30)
    t = paired_test(shifted, base)
    assert t["significant"] and t["ci_low"] > 0 and t["p_value"] < 1e-4
    assert abs(t["mean_diff"] - 0.5) < 0.1
    null = day_noise + np.tile([0.2, -0.2], 15)  # mean difference exactly 0
    t0 = paired_test(null, day_noise)
    assert not t0["significant"] and t0["ci_low"] <= 0 <= t0["ci_high"] and t0["p_value"] > 0.5
    noisy = day_noise + rng.normal(0, 0.1, 30)  # independent noise only
    assert not paired_test(noisy, base)["significant"]
    assert not paired_test(shifted[:4], base[:4])["significant"]  # too few days to call


# --------------------------------------------------------------------------- command


def test_rollout_command_writes_tables_maps_and_layers(tiny_dir, tmp_path, capsys):
    """`fulfil rollout` runs every phase of two variants and writes KPI/comparison CSVs, maps, charts and GeoJSON."""
    from fulfil.cli import main

    out = tmp_path / "out"
    code = main(["-q", "rollout", str(tiny_dir / "region.toml"), "--days", "1", "--out", str(out), "--workers", "1",
                 "--variants", "lockers,no_lockers"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "KPIs by phase" in printed and "Variants side by side" in printed
    for name in ("kpis.csv", "days.csv", "sites.csv", "comparison.csv", "summary.txt", "kpis_by_phase.png",
                 "maps/lockers_full.png", "geojson/lockers_pilot_reach.geojson",
                 "geojson/no_lockers_full_service_areas.geojson", "geojson/lockers_full_sites.geojson"):
        assert (out / name).is_file(), name
    layers = json.loads((out / "geojson" / "lockers_full_reach.geojson").read_text())
    assert {f["properties"]["layer"] for f in layers["features"]} >= {"promise_reach", "siting_reach"}
    assert (main(["-q", "rollout", str(tiny_dir / "region.toml"), "--days", "1", "--out", str(out),
                  "--variants", "nope"]) == 2)
