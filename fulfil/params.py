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

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise UsageError(f"unknown engine '{self.engine}'; choose from {', '.join(ENGINES)}")
        if self.time_limit_s is None and self.solution_limit is None:
            raise UsageError("give a time limit or a solution limit (or both)")
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
        """Wall seconds of the last-mile and trunk stages (``None``: deterministic budget)."""
        total = self.time_limit_s
        if total is None:
            return None, None
        return LAST_MILE_SHARE * total, (1.0 - LAST_MILE_SHARE) * total
