"""Time the bundled rollout scenario: 3 phases × N days, every daily plan checked.

Usage::

    python benchmarks/run_rollout.py                       # 30 days, the region's default variants
    python benchmarks/run_rollout.py --days 30 --variants lockers --workers 2 --out /tmp/rollout_bench

Prints the wall-clock time of siting and simulation, the plans per second, the checker
violations (must be 0) and the KPI table of the baseline; with ``--out`` it also writes
every output of ``fulfil rollout`` there.  The target on a 2-core machine is 3 phases ×
30 days within 10 minutes (600 s).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from fulfil.rollout.command import run_rollout, write_outputs  # noqa: E402
from fulfil.rollout.outputs import phase_table  # noqa: E402
from fulfil.rollout.region import load_region  # noqa: E402

TARGET_S = 600.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--region", default=str(REPO / "scenarios" / "rollout_region" / "region.toml"))
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--variants", default=None, help="comma-separated (default: the region's simulation.variants)")
    ap.add_argument("--workers", type=int, default=0, help="0 = one per core")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("-v", "--verbose", action="store_true", help="progress lines")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    t0 = time.perf_counter()
    region = load_region(args.region)
    variants = args.variants.split(",") if args.variants else None
    res = run_rollout(region, variants=variants, days=args.days, seed=args.seed,
                      workers=args.workers or (os.cpu_count() or 1))
    if args.out:
        write_outputs(res, Path(args.out))
    total = time.perf_counter() - t0
    n = len(res.results)
    print(phase_table(res.aggregate, res.variants[0]))
    print(f"\nvariants {','.join(res.variants)}: {n} nightly plans; siting {res.siting_s:.1f} s, "
          f"simulation {res.simulation_s:.1f} s ({n / max(res.simulation_s, 1e-9):.2f} plans/s), total {total:.1f} s "
          f"on {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f}); checker violations {res.violations}")
    ok = res.violations == 0 and total <= TARGET_S
    print(f"target (every plan passes, total ≤ {TARGET_S:.0f} s): " + ("met" if ok else "NOT met"))
    return 0 if res.violations == 0 else 4


if __name__ == "__main__":
    sys.exit(main())
