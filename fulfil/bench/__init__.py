"""Benchmarks on the standard VRP instance sets: gap to best known, peers side by side.

* :mod:`fulfil.bench.convert` — a benchmark instance as a :class:`solvers.routing.RoutingProblem`,
  in the distance convention of its best-known-solution table.
* :mod:`fulfil.bench.engines` — ``ours`` (:func:`solvers.routing.solve_routing`) and the peers
  (``ortools-plain``, ``pyvrp``, ``vroom``) behind one signature.
* :mod:`fulfil.bench.verify` — independent feasibility re-check and cost recomputation.
* :mod:`fulfil.bench.multitrip` — the multi-trip VRPTW with release dates (``mtvrptwr``).
* :mod:`fulfil.bench.chart` — ``gaps.png``, the gap per instance that every run draws.
* :mod:`fulfil.bench.command` — the ``fulfil bench`` command.

Nothing heavy is imported here.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["benchdata_dir"]


def benchdata_dir() -> Path:
    """The shared benchmark data folder.

    Returns
    -------
    Path
        ``$FULFIL_BENCHDATA`` when set, else ``<repo root>/../shared/benchdata``
        (the data is never copied into the repository).
    """
    env = os.environ.get("FULFIL_BENCHDATA")
    if env:
        return Path(env)
    repo_root = Path(__file__).resolve().parents[2]
    return repo_root.parent / "shared" / "benchdata"
