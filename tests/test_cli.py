"""The command line: exit codes, messages, and nothing half-written."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

from fulfil.cli import main

BAD = Path(__file__).parent / "data" / "bad"


def test_plan_writes_plan_sheets_map_and_passes_check(small_city, tmp_path, capsys):
    """`fulfil plan` exits 0, writes plan.json, one route sheet per trip (`route_sheets/<trip id>.csv`),
    unserved.csv and map.png, and `fulfil check` on the result exits 0."""
    out = tmp_path / "out"
    rc = main(["-q", "plan", str(small_city), "--out", str(out), "--time-limit", "0", "--solutions", "40"])
    text = capsys.readouterr().out
    assert rc == 0, text
    plan = json.loads((out / "plan.json").read_text())
    assert plan["format_version"] == 2 and plan["check"]["violations"] == 0
    sheets = sorted(p.stem for p in (out / "route_sheets").glob("*.csv"))
    trips = [t["id"] for d in plan["duties"] for t in d["trips"]]
    assert trips and sheets == sorted(trips)
    assert (out / "unserved.csv").is_file()
    distance = {t["id"]: t["distance_km"] for d in plan["duties"] for t in d["trips"]}
    for sheet in (out / "route_sheets").glob("*.csv"):  # the return leg is on the sheet: legs add up
        lines = sheet.read_text().splitlines()
        table = lines[next(i for i, line in enumerate(lines) if line.startswith("seq,")):]
        legs = sum(float(r["leg_km"] or 0) for r in csv.DictReader(table))
        assert abs(legs - distance[sheet.stem]) < 0.01, sheet.name
    assert (out / "map.png").stat().st_size > 10_000
    assert "cost per order" in text and "Independent check: no violation" in text
    assert main(["check", str(small_city), str(out / "plan.json")]) == 0


def test_check_exits_4_and_names_the_violation(small_city, tmp_path, capsys):
    """A plan whose stop arrives after its window closes makes `fulfil check` exit 4 and name `late`."""
    out = tmp_path / "out"
    assert main(["-q", "plan", str(small_city), "--out", str(out), "--time-limit", "0", "--solutions", "20",
                 "--no-check"]) == 0
    plan = json.loads((out / "plan.json").read_text())
    trip = next(t for d in plan["duties"] if d["tier"] == "last_mile" for t in d["trips"])
    trip["departure"] += 600  # leave 10 hours late
    bad = tmp_path / "late.json"
    bad.write_text(json.dumps(plan))
    capsys.readouterr()
    assert main(["check", "-v", str(small_city), str(bad)]) == 4
    assert "late" in capsys.readouterr().out


def test_bad_scenario_exits_2_with_located_message_and_writes_nothing(tmp_path, capsys):
    """A defective scenario gives exit 2, a one-line-per-problem message naming file and field, no traceback,
    and no output folder."""
    out = tmp_path / "never"
    rc = main(["plan", str(BAD / "window_opens_after_close.toml"), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "window_opens_after_close.toml: pickup_points[" in err and "opens after it closes" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_validate_good_and_bad(small_city, capsys):
    """`fulfil validate` exits 0 on a good scenario and 2 on a bad one."""
    assert main(["validate", str(small_city)]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["validate", str(BAD / "duplicate_pickup_id.toml")]) == 2


def test_unreachable_pickup_point_is_a_validation_error(small_city, tmp_path, capsys):
    """A pickup point with cold goods 55 km from every forward warehouse is reported before solving."""
    folder = tmp_path / "far"
    shutil.copytree(small_city.parent, folder)
    csv = folder / "small_city_pickup_points.csv"
    lines = csv.read_text().splitlines()
    head = lines[0].split(",")
    row = lines[1].split(",")
    row[head.index("lat")] = str(float(row[head.index("lat")]) + 0.5)
    lines[1] = ",".join(row)
    csv.write_text("\n".join(lines) + "\n")
    toml = folder / "small_city.toml"
    toml.write_text(re.sub(r"(?m)^lat_max = .*$", "lat_max = 29.9", toml.read_text()))  # widen the region
    rc = main(["validate", str(toml)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "no forward warehouse can reach it within the 120-minute promise" in err


def test_generate_is_reproducible(tmp_path):
    """`fulfil generate` with the same seed and knobs writes byte-identical files."""
    args = ["generate", "--pickups", "50", "--forward", "2", "--orders", "2000", "--seed", "9", "--name", "g"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    for f in (tmp_path / "a").iterdir():
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes()


def test_bundled_demo_is_what_the_generator_makes(tmp_path):
    """scenarios/demo_city.* is exactly the generator's output for the seed in its header."""
    from fulfil.generate import GenerateConfig, generate

    files = generate(GenerateConfig())
    root = Path(__file__).resolve().parents[1] / "scenarios"
    for name, text in files.items():
        assert (root / name).read_text() == text, name


def test_bad_option_exits_2(small_city, tmp_path, capsys):
    """An invalid option value is a usage error (exit 2), not a traceback."""
    assert main(["plan", str(small_city), "--out", str(tmp_path / "o"), "--time-limit", "-3"]) == 2
    assert "time-limit" in capsys.readouterr().err


def test_quiet_is_accepted_before_and_after_the_subcommand(tmp_path):
    """`-q/--quiet` works before the subcommand and after it (`fulfil plan X --out D -q`), for every subcommand."""
    import logging

    from fulfil.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["plan", "x.toml", "--out", "d", "-q"]).quiet is True
    assert parser.parse_args(["-q", "plan", "x.toml", "--out", "d"]).quiet is True
    assert parser.parse_args(["plan", "x.toml", "--out", "d"]).quiet is False
    assert parser.parse_args(["check", "s.toml", "p.json", "-v", "--quiet"]).quiet is True
    assert parser.parse_args(["generate", "--out", "d", "-q"]).quiet is True
    assert parser.parse_args(["bench", "solomon", "--time-limit", "1", "--out", "d", "-q"]).quiet is True
    assert parser.parse_args(["rollout", "r.toml", "--out", "d", "-q"]).quiet is True
    assert parser.parse_args(["replay", "s.toml", "p.json", "l.csv", "-q"]).quiet is True

    gen = ["generate", "--pickups", "20", "--forward", "1", "--orders", "200", "--out", str(tmp_path / "g")]
    assert main([*gen, "-q"]) == 0
    assert logging.getLogger("fulfil").level == logging.WARNING
    assert main(gen) == 0
    assert logging.getLogger("fulfil").level == logging.INFO


def test_version(capsys):
    """`fulfil --version` prints `fulfil <version>` and exits 0."""
    import pytest

    import fulfil

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"fulfil {fulfil.__version__}\n"


def test_ctrl_c_that_a_library_wraps_in_its_own_error_still_exits_130(monkeypatch, capsys):
    """A Ctrl-C while pydantic builds the scenario model's schema came out as pydantic's SchemaError
    (exit 1, 'internal error'); a Ctrl-C the command saw is an interruption whatever error carries it."""
    import os
    import signal
    import time

    import fulfil.cli as cli

    def wrapped(args):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            raise RuntimeError("Error building validator: KeyboardInterrupt") from None
        return 0

    monkeypatch.setattr(cli, "_cmd_validate", wrapped)
    assert cli.main(["validate", "x.toml"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
