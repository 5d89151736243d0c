"""Parameters of one nightly plan: budget, seed, workers, engine."""

from __future__ import annotations

from dataclasses import dataclass

from fulfil.errors import UsageError

ENGINES = ("ortools", "nearest")
#: Share of the routing budget given to the last mile; the trunk gets the rest.
LAST_MILE_SHARE = 0.85


@dataclass(frozen=True)
class PlanParams:
    """Budget and knobs of one nightly plan.

    ``time_limit_s`` is the wall-clock budget of the whole routing stage, shared among
    subproblems in proportion to their size; ``solution_limit`` bounds the number of
    solutions each subproblem's search may find (a deterministic budget).
    """

    time_limit_s: float | None = 12.0
    solution_limit: int | None = None
    seed: int = 0
    workers: int = 0  # 0 = one per core
    #: ``"ortools"`` (the optimiser) or ``"nearest"`` (naive nearest-neighbour dispatch baseline)
    engine: str = "ortools"
    #: Search time by size instead of a share of one wall budget: every engine run of a
    #: subproblem gets ``max(MIN_BUDGET_S, seconds_per_job × jobs)`` (``time_limit_s`` is then
    #: not used).  With 5 ms per job (from benchmarks/time_to_quality.py) the large city came
    #: within 0.2 % of the cost of a 120 s plan, in about a minute.
    seconds_per_job: float | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise UsageError(f"unknown engine '{self.engine}'; choose from {', '.join(ENGINES)}")
        if self.seconds_per_job is not None and self.seconds_per_job <= 0:
            raise UsageError("the search time per job must be positive")
        if self.time_limit_s is None and self.solution_limit is None and self.seconds_per_job is None:
            raise UsageError("give a time limit, a search time per job or a solution limit")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise UsageError("the time limit must be positive")
        if self.solution_limit is not None and self.solution_limit < 1:
            raise UsageError("the solution limit must be at least 1")
        if self.workers < 0:
            raise UsageError("workers must be 0 (one per core) or more")

    @property
    def n_workers(self) -> int:
        from fulfil.executor import cpu_count

        return self.workers or cpu_count()

    def budgets(self) -> tuple[float | None, float | None]:
        """Wall seconds of the last-mile and trunk stages (``None``: deterministic budget, or
        search time by size, see :attr:`seconds_per_job`)."""
        total = None if self.seconds_per_job is not None else self.time_limit_s
        if total is None:
            return None, None
        return LAST_MILE_SHARE * total, (1.0 - LAST_MILE_SHARE) * total


#: ``fulfil replan``: RMB added to the objective for every stop that leaves the trip it had in the
#: previous plan.  About a third of what one last-mile stop costs in the demo city: a stop that is
#: not forced to move only moves when that saves more than this.  (Here, not in :mod:`fulfil.replan`,
#: so that building the command line's parser imports nothing heavy.)
DEFAULT_MOVE_PENALTY = 50.0
