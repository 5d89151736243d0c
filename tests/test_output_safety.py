"""Output safety: a bad ``--out`` is refused before any solving, and a plan folder is written as one set.

A kill at any moment of the writing leaves the folder holding exactly the old plan or exactly the
new one — never the files of both, never no folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fulfil.cli import main

PLAN_ARGS = ["--time-limit", "0", "--solutions", "20", "--workers", "1", "--charts", "0"]


@pytest.fixture
def no_solving(monkeypatch):
    """Planning is an error here: the command must stop before it."""
    import fulfil.pipeline

    def plan_night(*args, **kwargs):
        raise AssertionError("the solve started")

    monkeypatch.setattr(fulfil.pipeline, "plan_night", plan_night)


def _bad_out(kind: str, tmp: Path) -> tuple[Path, str]:
    """An unusable ``--out`` of ``kind`` and the words the error names it by."""
    if kind == "a file":
        (tmp / "plan.txt").write_text("not a folder")
        return tmp / "plan.txt", "is a file, not a folder"
    if kind == "under a file":
        (tmp / "plan.txt").write_text("not a folder")
        return tmp / "plan.txt" / "night" / "out", f"{tmp / 'plan.txt'} is a file, not a folder"
    if kind == "a folder of other files":
        (tmp / "mine").mkdir()
        (tmp / "mine" / "thesis.tex").write_text("keep me")
        return tmp / "mine", "thesis.tex"
    if kind == "a read-only folder":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        (tmp / "ro").mkdir()
        (tmp / "ro").chmod(0o555)
        return tmp / "ro" / "out", "cannot write in"
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["a file", "under a file", "a folder of other files", "a read-only folder"])
def test_an_unusable_out_is_refused_before_solving(small_city, tmp_path, capsys, no_solving, kind):
    """``--out`` that is a file, under a file, a folder holding other files (which replacing it whole would
    lose) or a read-only folder: exit 2 with a message naming --out, the path and what is wrong, before
    any solving, and nothing changed on disk."""
    out, words = _bad_out(kind, tmp_path)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    assert main(["plan", str(small_city), "--out", str(out), *PLAN_ARGS]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and str(out) in err and words in err, err
    assert "Traceback" not in err and "internal error" not in err
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_a_national_out_with_an_unusable_city_folder_is_refused_before_solving(small_city, tmp_path, capsys,
                                                                               no_solving):
    """Several cities: a city's folder in ``--out`` that holds other files is refused up front (exit 2)."""
    cities = tmp_path / "cities"
    cities.mkdir()
    for name in ("a", "b"):
        text = small_city.read_text(encoding="utf-8").replace('name = "small_city"', f'name = "{name}"')
        for csv in small_city.parent.glob("*.csv"):
            shutil.copy(csv, cities / csv.name)
        (cities / f"{name}.toml").write_text(text, encoding="utf-8")
    (tmp_path / "out" / "b").mkdir(parents=True)
    (tmp_path / "out" / "b" / "notes.txt").write_text("mine")
    assert main(["plan", str(cities), "--out", str(tmp_path / "out"), *PLAN_ARGS]) == 2
    err = capsys.readouterr().err
    assert "notes.txt" in err and str(tmp_path / "out" / "b") in err, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b"]


# ---------------------------------------------------------------- kills while writing

#: Run in a subprocess: write the plan of argv[1] into the folder argv[2], every file operation slowed
#: by argv[3] seconds so that a kill can land between any two of them.
WRITER = """
import json, os, pathlib, sys, time
from fulfil.plan_model import parse_plan
from fulfil.report.plan_dir import write_plan_dir

plan = parse_plan(json.loads(pathlib.Path(sys.argv[1]).read_text(encoding="utf-8")))
pause = float(sys.argv[3])

def slowed(fn):
    def run(*args, **kwargs):
        time.sleep(pause)
        return fn(*args, **kwargs)
    return run

pathlib.Path.write_text = slowed(pathlib.Path.write_text)
os.replace = slowed(os.replace)
os.rename = slowed(os.rename)
os.unlink = slowed(os.unlink)  # the old folder's removal, after the new one is in place
print("writing", flush=True)
write_plan_dir(plan, pathlib.Path(sys.argv[2]))
print("written", flush=True)
"""


def _snapshot(folder: Path) -> dict[str, bytes] | None:
    """Every file under ``folder`` by relative path (None: no folder)."""
    if not folder.is_dir():
        return None
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _start_writer(plan_json: Path, out: Path, pause_s: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(plan_json), str(out), str(pause_s)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.strip() == "writing", line + proc.stderr.read()
    return proc


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_kill_while_writing_leaves_the_old_plan_or_the_new_one_never_both(small_city, tmp_path):
    """SIGKILL at evenly spread moments while a new plan is written over an older plan's folder: the
    folder is always there and holds exactly the old plan's files or exactly the new plan's; the
    hidden temporary folders a kill leaves beside it are removed by the next write."""
    from fulfil.pipeline import PlanParams, plan_night
    from fulfil.plan_model import write_plan
    from fulfil.report.plan_dir import write_plan_dir
    from fulfil.scenario import load_scenario

    s = load_scenario(small_city)
    old = plan_night(s, PlanParams(time_limit_s=None, solution_limit=20, workers=1, engine="nearest"))
    new = plan_night(s, PlanParams(time_limit_s=None, solution_limit=20, workers=1))
    write_plan_dir(old, tmp_path / "ref_old")
    write_plan_dir(new, tmp_path / "ref_new")
    ref_old, ref_new = _snapshot(tmp_path / "ref_old"), _snapshot(tmp_path / "ref_new")
    assert all(ref_old[f] != ref_new[f] for f in ("plan.json", "summary.txt"))
    assert any(ref_old.get(f) != ref_new[f] for f in ref_new if f.startswith("route_sheets/"))
    write_plan(new, tmp_path / "new.json")

    work = tmp_path / "w"
    work.mkdir()
    out = work / "plan"
    pause = 0.01
    shutil.copytree(tmp_path / "ref_old", out)
    proc = _start_writer(tmp_path / "new.json", out, pause)
    t0 = time.perf_counter()
    assert proc.wait(60) == 0, proc.stderr.read()
    writing_s = time.perf_counter() - t0
    assert _snapshot(out) == ref_new

    seen = {"old": 0, "new": 0}
    kills = 8
    for k in range(kills):
        shutil.rmtree(out)
        shutil.copytree(tmp_path / "ref_old", out)
        proc = _start_writer(tmp_path / "new.json", out, pause)
        time.sleep(writing_s * (k + 0.5) / kills)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        got = _snapshot(out)
        assert got is not None, f"kill {k}: the plan folder is missing"
        assert got in (ref_old, ref_new), (f"kill {k} after {writing_s * (k + 0.5) / kills:.2f} s: files of "
                                           f"two plans together: {sorted(set(got) ^ set(ref_new))[:6]}")
        seen["old" if got == ref_old else "new"] += 1
    assert seen["old"] > 0 and seen["new"] > 0, seen  # the kills landed before and after the swap

    write_plan_dir(new, out)  # the next write cleans up after the killed ones
    assert _snapshot(out) == ref_new
    assert sorted(p.name for p in work.iterdir()) == ["plan"]
