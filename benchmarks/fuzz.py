"""Long fuzz run of the command line: broken scenarios, tampered plans, interrupted and killed writes.

Usage::

    python benchmarks/fuzz.py --minutes 20 [--seed 0] [--save fuzz_failures] [--categories a,b]

The same mutations as the property tests (``tests/fuzzing/``), drawn from a seeded
``random.Random`` and run through the real CLI in child processes (60 s and 3 GB each; the
heavy mutations too: FIFOs, ``/dev/zero``, a 200,000-row table, alias bombs, 100,000 vehicles).
Categories run in turn until the time is up:

* scenario mutations (``doc-value``, ``doc-structure``, ``doc-text``, ``csv-content``,
  ``file-refs``, ``matrix``, ``edge-values``): ``validate`` exits 0 or a located 2; what
  validates plans (exit 0) and checks clean;
* ``plan-tamper``: one node of a planned ``plan.json`` changed; ``check`` must exit 4 or 2
  unless the change is tolerated (``fuzzing.plans.ACCEPTED``/``TOLERANCES``);
* ``write-fault``: a plan written over an older one, stopped at a random file-system change
  (death or Ctrl-C, once or twice; ``fuzzing.writes.run_with_fault``);
* ``sigkill``, ``sigint``: the real signals at a random moment of a run.

Prints a table of counts per category and failure class, saves each failing input with a
``README.txt`` to reproduce it (the chooser script replays the same mutation), and exits 1 when
anything failed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from fuzzing.harness import RecordingChooser, describe, run_subprocess
from fuzzing.invariants import (
    PLAN_ARGS,
    check_failures,
    folder_failures,
    input_failures,
    interrupted_failures,
)
from fuzzing.plans import mutate_plan
from fuzzing.scenarios import CATEGORIES, make_base, make_case
from fuzzing.writes import restore, run_killed, run_with_fault

TINY = ROOT / "tests" / "data" / "checker" / "tiny.toml"
WRITE_CATEGORIES = ("write-fault", "sigkill", "sigint")
ALL = (*CATEGORIES, "plan-tamper", *WRITE_CATEGORIES)
#: Turns per round: a tampered plan is one quick ``check``, so it gets several per round.
WEIGHT = {"plan-tamper": 4}

#: The four headline numbers of issue 13's "done when", and the failure classes each counts.
HEADLINE = {
    "tracebacks": lambda cls: "traceback" in cls,
    "exit 1 on input files": lambda cls: cls.endswith(("exit 1", "crash")),
    "tampered plans accepted": lambda cls: cls == "tampered plan accepted",
    "mixed output folders": lambda cls: "mixed folder" in cls or "half-written" in cls,
}


def run(argv: list[str]):
    return run_subprocess(argv, timeout_s=60.0, memory_mb=3072)


class Fuzz:
    """State of one run: the work folder, the planned base, the counts and the saved failures."""

    def __init__(self, work: Path, save: Path, seed: int, verbose: bool = False):
        self.work, self.save, self.rng, self.verbose = work, save, random.Random(seed), verbose
        self.t0 = time.monotonic()
        self.tried: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.classes: dict[str, Counter[str]] = defaultdict(Counter)
        self.n = 0
        self._plan: tuple[Path, dict, dict[str, int]] | None = None
        self._writes: tuple[Path, Path, Path, dict[str, Path]] | None = None

    # -- bookkeeping ----------------------------------------------------------------
    def record(self, category: str, failures: list[tuple[str, str]], label: str, files: list[Path],
               script: list[int] | None, commands: list[list[str]]) -> None:
        self.tried[category] += 1
        if self.verbose:
            print(f"{time.monotonic() - self.t0:7.1f}s {category:13s} {label[:70]!r:72s} "
                  f"{describe(failures)[:150] if failures else 'ok'}", flush=True)
        if not failures:
            return
        self.failed[category] += 1
        for cls, _ in failures:
            self.classes[category][cls] += 1
        dest = self.save / f"{category}-{self.n:05d}"
        dest.mkdir(parents=True, exist_ok=True)
        for f in files:
            if f.is_dir():
                shutil.copytree(f, dest / f.name, symlinks=True, dirs_exist_ok=True, ignore=_unreadable)
            elif f.exists() or f.is_symlink():
                shutil.copy(f, dest / f.name, follow_symlinks=False)
        (dest / "README.txt").write_text(
            f"category: {category}\nmutation: {label}\nfailures: {describe(failures)}\n"
            f"chooser script (fuzzing.harness.ReplayChooser): {json.dumps(script)}\n"
            "commands:\n" + "".join(f"  fulfil {' '.join(map(_short, c))}\n" for c in commands),
            encoding="utf-8", errors="backslashreplace")

    # -- scenarios --------------------------------------------------------------------
    def scenario(self, category: str) -> None:
        folder = self.work / f"case{self.n}" / "scenario"
        c = RecordingChooser(self.rng)
        case = make_case(category, folder, c, heavy=True)
        failures, outcomes = input_failures(case, run)
        self.record(category, failures, case.label, [folder], c.script, [o.argv for o in outcomes])
        _remove(folder.parent)

    # -- plans ------------------------------------------------------------------------
    def base_plan(self) -> tuple[Path, dict, dict[str, int]]:
        if self._plan is None:
            from fulfil.scenario import load_scenario

            scenario = make_base(self.work / "plan_base" / "s")
            out = self.work / "plan_base" / "out"
            o = run(["-q", "plan", str(scenario), "--out", str(out), *PLAN_ARGS])
            if o.rc != 0:
                raise SystemExit(f"the base scenario does not plan (exit {o.rc}): {o.err[-500:]}")
            counts = {v.id: v.count for v in load_scenario(scenario).vehicle_types}
            self._plan = scenario, json.loads((out / "plan.json").read_text()), counts
        return self._plan

    def plan_tamper(self) -> None:
        scenario, doc, counts = self.base_plan()
        c = RecordingChooser(self.rng)
        m = mutate_plan(doc, c, counts)
        f = self.work / f"plan{self.n}.json"
        f.write_bytes(m.text.encode("utf-16" if "UTF-16" in m.label else "utf-8"))
        o = run(["check", str(scenario), str(f)])
        failures = check_failures(m, o)
        self.record("plan-tamper", failures, f"{m.label} (expected {m.expect}: {m.why})", [f, scenario.parent],
                    c.script, [o.argv])
        f.unlink()

    # -- writes -----------------------------------------------------------------------
    def writes(self) -> tuple[Path, Path, Path, dict[str, Path]]:
        if self._writes is None:
            base = self.work / "writes"
            scenario_b = make_base(base / "b")
            scenario_a = base / "a" / "tiny.toml"
            scenario_a.parent.mkdir(parents=True)
            shutil.copy(TINY, scenario_a)
            out = base / "out"
            o = run(["-q", "plan", str(scenario_a), "--out", str(out), *PLAN_ARGS])
            if o.rc != 0:
                raise SystemExit(f"tiny.toml does not plan (exit {o.rc}): {o.err[-500:]}")
            shutil.copytree(out, base / "backup")
            self._writes = out, base / "backup", scenario_b, {"tiny": scenario_a, "mini": scenario_b}
        return self._writes

    def write_case(self, category: str) -> None:
        out, backup, scenario_b, scenarios = self.writes()
        argv = ["-q", "plan", str(scenario_b), "--out", str(out), *PLAN_ARGS]
        restore(backup, out)
        if category == "write-fault":
            from fuzzing.harness import Outcome

            _, n = run_with_fault(argv, 0, "count")
            restore(backup, out)
            k, mode = self.rng.randint(1, max(1, n)), self.rng.choice(("kill", "int", "int2"))
            rc, _ = run_with_fault(argv, k, mode)
            label = f"{mode} at file-system change {k} of {n}"
            if mode == "kill":
                failures = folder_failures(out)
            else:
                failures = interrupted_failures(Outcome(argv, rc, "", "", 0.0), out, run,
                                                scenarios.get(_scenario_name(out), scenario_b), True)
        else:
            run_argv = [a for a in argv if a != "-q"]
            delay = self.rng.uniform(0.0, 3.0)
            second = self.rng.choice((None, 0.05, 0.3)) if category == "sigint" else None
            sig = signal.SIGKILL if category == "sigkill" else signal.SIGINT
            o = run_killed(run_argv, sig, delay, second)
            label = f"{sig.name} {delay:.2f} s after start" + (f", again {second} s later" if second else "")
            if category == "sigkill":
                failures = folder_failures(out)
            else:
                failures = interrupted_failures(o, out, run, scenarios.get(_scenario_name(out), scenario_b), True)
        self.record(category, failures, label, [out], None, [argv])

    # -- report -----------------------------------------------------------------------
    def table(self) -> str:
        rows = [("category", "tried", "failed", "failure classes (count)")]
        for cat in ALL:
            if self.tried[cat]:
                classes = ", ".join(f"{k} ({v})" for k, v in self.classes[cat].most_common())
                rows.append((cat, str(self.tried[cat]), str(self.failed[cat]), classes or "-"))
        rows.append(("total", str(sum(self.tried.values())), str(sum(self.failed.values())), ""))
        w = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:>{w[2]}}  {r[3]}" for r in rows]
        lines.insert(1, "-" * (sum(w) + 30))
        counts = Counter()
        for cat, classes in self.classes.items():
            for cls, n in classes.items():
                for name, match in HEADLINE.items():
                    if match(cls) and (name != "exit 1 on input files" or cat not in WRITE_CATEGORIES):
                        counts[name] += n
        lines += ["", *(f"{name}: {counts[name]}" for name in HEADLINE)]
        return "\n".join(lines)


def _scenario_name(out: Path) -> str:
    try:
        return json.loads((out / "plan.json").read_text()).get("scenario", "")
    except (OSError, ValueError):
        return ""


def _unreadable(folder: str, names: list[str]) -> list[str]:
    """Skip FIFOs when saving a failing case (copying one would block)."""
    import stat

    return [n for n in names if stat.S_ISFIFO(Path(folder, n).lstat().st_mode)]


def _short(arg: str) -> str:
    return arg if len(arg) < 120 else arg[:60] + "…"


def _remove(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file() and not p.is_symlink():
            p.chmod(0o644)
    shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=20.0, help="how long to fuzz (default 20)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", default="fuzz_failures", help="folder for failing inputs (default ./fuzz_failures)")
    ap.add_argument("--categories", default=",".join(ALL), help=f"comma-separated, of: {', '.join(ALL)}")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per case as it runs")
    args = ap.parse_args(argv)
    cats = [c.strip() for c in args.categories.split(",") if c.strip()]
    unknown = sorted(set(cats) - set(ALL))
    if unknown:
        ap.error(f"unknown categories: {', '.join(unknown)}")
    save = Path(args.save)
    with tempfile.TemporaryDirectory(prefix="fulfil_fuzz_") as tmp:
        fz = Fuzz(Path(tmp), save, args.seed, args.verbose)
        t_end = time.monotonic() + 60.0 * args.minutes
        rounds = [c for c in cats for _ in range(WEIGHT.get(c, 1))]
        while time.monotonic() < t_end:
            cat = rounds[fz.n % len(rounds)]
            if cat in CATEGORIES:
                fz.scenario(cat)
            elif cat == "plan-tamper":
                fz.plan_tamper()
            else:
                fz.write_case(cat)
            fz.n += 1
        for p in Path(tmp).rglob("*"):  # chmod 000 files would stop the clean-up as a non-root user
            if not p.is_symlink():
                p.chmod(0o755 if p.is_dir() else 0o644)
    print(f"fuzzed {args.minutes:g} min, seed {args.seed}\n")
    print(fz.table())
    if sum(fz.failed.values()):
        print(f"\nfailing inputs saved in {save}/ (README.txt in each)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
