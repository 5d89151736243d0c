"""Plain-numpy description of one single-depot routing subproblem.

This module deliberately depends on :mod:`numpy` only, so that problems and
solutions can be pickled and shipped to worker processes (whatever executor
the caller runs tasks on) without pulling in the rest of the application.

Conventions
-----------
* Node ``0`` is the depot, nodes ``1..N`` are jobs.
* ``V`` vehicles, ``D`` capacity dimensions.
* All times are absolute integer seconds, all distances integer metres and
  all costs integer "cost units" (except the two per-unit rates, which are
  floats and are rounded when the model is built).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

__all__ = ["MAX_MAGNITUDE", "RoutingProblem", "RoutingSolution", "NO_DEADLINE_S"]

#: Conventional "no deadline" value for :attr:`RoutingProblem.deadline_s`
#: (ten days, in seconds). Any value larger than every time window works.
NO_DEADLINE_S: int = 10 * 86400

#: Largest absolute time / distance / load / cost magnitude accepted. OR-Tools
#: works in int64; keeping every input below 2**40 leaves plenty of head-room
#: for the sums (route lengths, objective) computed inside the solver.
MAX_MAGNITUDE = 2**40

# Arrays whose large values mean "no limit"; they are clipped to the planning
# horizon when the model is built, so they are exempt from the bound above.
_UNBOUNDED = frozenset({"tw_close_s", "deadline_s"})

# name -> (kind, expected ndim); kind is one of "int", "float", "bool".
_ARRAY_SPECS: dict[str, tuple[str, int]] = {
    "dist_m": ("int", 2),
    "travel_s": ("int", 2),
    "site": ("int", 1),
    "service_fixed_s": ("int", 1),
    "service_var_s": ("int", 1),
    "tw_open_s": ("int", 1),
    "tw_close_s": ("int", 1),
    "demand": ("int", 2),
    "capacity": ("int", 2),
    "allowed": ("bool", 2),
    "deadline_s": ("int", 2),
    "start_s": ("int", 1),
    "end_max_s": ("int", 1),
    "fixed_cost": ("int", 1),
    "cost_per_m": ("float", 1),
    "cost_per_s": ("float", 1),
    "penalty": ("int", 1),
}


@dataclass(frozen=True, eq=False)
class RoutingProblem:
    """One depot, ``N`` jobs, ``V`` vehicles and ``D`` capacity dimensions.

    Every attribute is a numpy array; ``__post_init__`` only converts the
    inputs with :func:`numpy.asarray` (no dtype coercion, no copy when the
    input already is an array). Call :meth:`validate` to check shapes, dtypes
    and value ranges; :func:`solvers.routing.solve_routing` always does.

    Parameters
    ----------
    dist_m : numpy.ndarray of int64, shape (N+1, N+1)
        Arc distance in metres, ``dist_m[i, j]`` from node ``i`` to ``j``.
    travel_s : numpy.ndarray of int64, shape (N+1, N+1)
        Arc travel time in seconds (already conservative, treated as exact).
        Must be ``0`` between two nodes of the same :attr:`site`.
    site : numpy.ndarray of int64, shape (N+1,)
        Physical site id of every node. Several jobs may share a site; the
        depot's site must not be shared with any job.
    service_fixed_s : numpy.ndarray of int64, shape (N+1,)
        Fixed service part (parking, hand-over), charged once per
        *consecutive* visit of a site: when a route serves ``i`` then ``j``
        with ``site[i] == site[j]``, the fixed part of ``i`` is not charged.
    service_var_s : numpy.ndarray of int64, shape (N+1,)
        Variable service part (per crate), always charged.
    tw_open_s, tw_close_s : numpy.ndarray of int64, shape (N+1,)
        Arrival window of every job. A vehicle may arrive early and wait for
        ``tw_open_s``; it must arrive no later than ``tw_close_s``. The depot
        entries (index 0) are ignored.
    demand : numpy.ndarray of int64, shape (N+1, D)
        Demand of every job in every dimension; the depot row must be zero.
    capacity : numpy.ndarray of int64, shape (V, D)
        Capacity of every vehicle in every dimension. ``0`` means the vehicle
        cannot carry that dimension at all.
    allowed : numpy.ndarray of bool, shape (V, N+1)
        ``allowed[v, j]``: vehicle ``v`` may serve job ``j``. Column 0 is
        ignored.
    deadline_s : numpy.ndarray of int64, shape (V, N+1)
        Latest arrival at job ``j`` when served by vehicle ``v`` (absolute
        seconds). Use a large value such as :data:`NO_DEADLINE_S` for "none".
        Column 0 is ignored.
    start_s : numpy.ndarray of int64, shape (V,)
        Fixed departure time of every vehicle from the depot.
    end_max_s : numpy.ndarray of int64, shape (V,)
        Latest return time of every vehicle to the depot (shift end).
    fixed_cost : numpy.ndarray of int64, shape (V,)
        Cost charged when the vehicle serves at least one job.
    cost_per_m : numpy.ndarray of float64, shape (V,)
        Cost per metre; the arc cost of vehicle ``v`` is
        ``round(dist_m[i, j] * cost_per_m[v])``.
    cost_per_s : numpy.ndarray of float64, shape (V,)
        Cost per second of route duration (return minus departure, waiting
        included). Rounded to an integer coefficient when the model is built,
        so pass values that are ``0`` or ``>= 1`` (scale costs if needed).
    penalty : numpy.ndarray of int64, shape (N+1,)
        Cost of not serving job ``j``. A negative value makes the job
        mandatory. The depot entry is ignored.

    Notes
    -----
    The time needed to go from node ``i`` to node ``j`` (the "transit" of
    the time dimension) is::

        service_var_s[i]
        + (service_fixed_s[i] if site[i] != site[j] else 0)
        + travel_s[i, j]

    so the depot's own service entries act as a loading time before
    departure; set them to zero if there is none.
    """

    dist_m: np.ndarray
    travel_s: np.ndarray
    site: np.ndarray
    service_fixed_s: np.ndarray
    service_var_s: np.ndarray
    tw_open_s: np.ndarray
    tw_close_s: np.ndarray
    demand: np.ndarray
    capacity: np.ndarray
    allowed: np.ndarray
    deadline_s: np.ndarray
    start_s: np.ndarray
    end_max_s: np.ndarray
    fixed_cost: np.ndarray
    cost_per_m: np.ndarray
    cost_per_s: np.ndarray
    penalty: np.ndarray
    #: Optional float64[N+1]: cost units per second a job is served after the earliest vehicle
    #: start (e.g. the expected spoilage of its goods per second in transit); empty = none.
    arrival_cost_per_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: Optional int64[V]: vehicle ``v`` may serve jobs only when vehicle ``needs_vehicle[v]`` serves
    #: some too (``-1``: no condition); empty = none.  Later trips of one real vehicle (its waves)
    #: need its first, which alone carries the fixed cost, so the objective pays that cost once.
    needs_vehicle: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: Optional int64[V], with ``needs_vehicle``: when vehicle ``v`` serves jobs, the vehicle it needs
    #: must be back at its end by ``lead_back_by_s[v]`` (a later wave leaves after the first is back
    #: and reloaded; unused, the first may run to its own ``end_max_s``); empty = no such condition.
    lead_back_by_s: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: Optional int64[N+1, G, 2]: gaps between a job's arrival windows, ``(a, b)``: service may start
    #: at ``a`` or earlier, or at ``b`` or later, never strictly between (a vehicle arriving in a gap
    #: waits for ``b``). Rows with ``a == b`` are padding; gaps lie inside ``[tw_open_s, tw_close_s]``,
    #: in time order; the depot row is ignored; empty = one window per job.
    tw_gaps_s: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 2), dtype=np.int64))

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, np.asarray(getattr(self, f.name)))

    # ------------------------------------------------------------------ sizes
    @property
    def n_nodes(self) -> int:
        """int: Number of nodes ``N + 1`` (depot included)."""
        return int(self.site.shape[0])

    @property
    def n_jobs(self) -> int:
        """int: Number of jobs ``N``."""
        return self.n_nodes - 1

    @property
    def n_vehicles(self) -> int:
        """int: Number of vehicles ``V``."""
        return int(self.capacity.shape[0])

    @property
    def n_dims(self) -> int:
        """int: Number of capacity dimensions ``D``."""
        return int(self.capacity.shape[1])

    # ------------------------------------------------------------ derived data
    def gaps(self, j: int) -> list[tuple[int, int]]:
        """The gaps ``(a, b)`` between job ``j``'s windows (padding left out); empty with one window."""
        if not self.tw_gaps_s.size:
            return []
        return [(int(a), int(b)) for a, b in self.tw_gaps_s[j] if a < b]

    def service_start_s(self, j: int, arrival_s: int) -> int:
        """Earliest service start at job ``j`` for a vehicle arriving at ``arrival_s``: the window's
        open when early, the next window's open when it arrives in a gap (lateness is not checked)."""
        start = max(int(arrival_s), int(self.tw_open_s[j]))
        for a, b in self.gaps(j):
            if a < start < b:
                return b
        return start

    def transit_time_s(self) -> np.ndarray:
        """Time-dimension transit matrix.

        Returns
        -------
        numpy.ndarray of int64, shape (N+1, N+1)
            ``service_var_s[i] + service_fixed_s[i] * (site[i] != site[j])
            + travel_s[i, j]``.
        """
        site = self.site.astype(np.int64)
        differ = site[:, None] != site[None, :]
        return (
            self.service_var_s.astype(np.int64)[:, None]
            + np.where(differ, self.service_fixed_s.astype(np.int64)[:, None], 0)
            + self.travel_s.astype(np.int64)
        )

    # -------------------------------------------------------------- validation
    def validate(self) -> None:
        """Check shapes, dtypes and value ranges.

        Raises
        ------
        ValueError
            With a message naming the offending array and the problem
            (wrong dtype, shape mismatch, negative value where not allowed,
            window opening after its closing, ...). Only the first problem
            found is reported.
        """
        a = self.arrival_cost_per_s
        if a.size and (a.shape != (self.n_nodes,) or not np.all(np.isfinite(a)) or np.any(a < 0)):
            raise ValueError("arrival_cost_per_s must be empty or finite, non-negative, of shape (N+1,)")
        nv = self.needs_vehicle
        if nv.size and (nv.dtype.kind not in "iu" or nv.shape != (self.n_vehicles,) or nv.min() < -1
                        or nv.max() >= self.n_vehicles or np.any(nv[nv[nv >= 0]] != -1)):
            raise ValueError("needs_vehicle must be empty or integers of shape (V,), each -1 or another "
                             "vehicle that itself needs none")
        lb = self.lead_back_by_s
        if lb.size and (lb.dtype.kind not in "iu" or lb.shape != (self.n_vehicles,) or nv.shape != lb.shape
                        or lb.min() < 0):
            raise ValueError("lead_back_by_s must be empty or non-negative integers of shape (V,), given "
                             "together with needs_vehicle")
        # dtypes and dimensionality first, so later checks can rely on them.
        for name, (kind, ndim) in _ARRAY_SPECS.items():
            arr = getattr(self, name)
            if arr.ndim != ndim:
                raise ValueError(
                    f"{name}: expected a {ndim}-d array, got shape {arr.shape}"
                )
            k = arr.dtype.kind
            if kind == "int" and k not in "iu":
                raise ValueError(f"{name}: expected an integer dtype, got {arr.dtype}")
            if kind == "bool" and k != "b":
                raise ValueError(f"{name}: expected a bool dtype, got {arr.dtype}")
            if kind == "float":
                if k not in "fiu":
                    raise ValueError(f"{name}: expected a float dtype, got {arr.dtype}")
                if not np.all(np.isfinite(arr)):
                    raise ValueError(f"{name}: contains NaN or infinite values")
            if name in _UNBOUNDED:
                continue
            if kind in ("int", "float") and arr.size and np.any(
                np.abs(arr.astype(np.float64)) > MAX_MAGNITUDE
            ):
                raise ValueError(
                    f"{name}: values larger than 2**40 in magnitude are not supported"
                )

        n1 = self.site.shape[0]
        if n1 < 1:
            raise ValueError("site: needs at least one node (the depot at index 0)")
        if self.capacity.shape[0] < 1:
            raise ValueError("capacity: needs at least one vehicle (row)")
        v, d = self.capacity.shape

        expected = {
            "dist_m": (n1, n1),
            "travel_s": (n1, n1),
            "site": (n1,),
            "service_fixed_s": (n1,),
            "service_var_s": (n1,),
            "tw_open_s": (n1,),
            "tw_close_s": (n1,),
            "demand": (n1, d),
            "capacity": (v, d),
            "allowed": (v, n1),
            "deadline_s": (v, n1),
            "start_s": (v,),
            "end_max_s": (v,),
            "fixed_cost": (v,),
            "cost_per_m": (v,),
            "cost_per_s": (v,),
            "penalty": (n1,),
        }
        for name, shape in expected.items():
            got = getattr(self, name).shape
            if got != shape:
                raise ValueError(
                    f"{name}: shape {got} does not match expected {shape} "
                    f"(N+1={n1} nodes from site, V={v} vehicles and D={d} "
                    f"dimensions from capacity)"
                )

        non_negative = (
            "dist_m",
            "travel_s",
            "service_fixed_s",
            "service_var_s",
            "tw_open_s",
            "tw_close_s",
            "demand",
            "capacity",
            "deadline_s",
            "start_s",
            "end_max_s",
            "fixed_cost",
            "cost_per_m",
            "cost_per_s",
        )
        for name in non_negative:
            arr = getattr(self, name)
            if arr.size and arr.min() < 0:
                idx = np.unravel_index(int(np.argmin(arr)), arr.shape)
                raise ValueError(
                    f"{name}: negative value {arr[idx]} at index {tuple(int(i) for i in idx)}"
                )

        if n1 > 1 and np.any(self.site[1:] == self.site[0]):
            j = int(np.flatnonzero(self.site[1:] == self.site[0])[0]) + 1
            raise ValueError(
                f"site: the depot site {int(self.site[0])} is shared with job {j}"
            )
        same_site = self.site[:, None] == self.site[None, :]
        bad = same_site & (self.travel_s != 0)
        if np.any(bad):
            i, j = (int(x) for x in np.argwhere(bad)[0])
            raise ValueError(
                f"travel_s: nodes {i} and {j} share site {int(self.site[i])} "
                f"but travel_s[{i}, {j}] = {int(self.travel_s[i, j])} != 0"
            )

        if n1 > 1:
            bad_tw = self.tw_open_s[1:] > self.tw_close_s[1:]
            if np.any(bad_tw):
                j = int(np.flatnonzero(bad_tw)[0]) + 1
                raise ValueError(
                    f"tw_open_s/tw_close_s: job {j} opens at "
                    f"{int(self.tw_open_s[j])} after it closes at {int(self.tw_close_s[j])}"
                )
        self._validate_gaps()
        if d and np.any(self.demand[0] != 0):
            raise ValueError("demand: the depot row (index 0) must be all zeros")

        late = self.end_max_s < self.start_s
        if np.any(late):
            k = int(np.flatnonzero(late)[0])
            raise ValueError(
                f"end_max_s: vehicle {k} must return at {int(self.end_max_s[k])}, "
                f"before its departure start_s={int(self.start_s[k])}"
            )

    def _validate_gaps(self) -> None:
        g = self.tw_gaps_s
        if not g.size:
            return
        if g.dtype.kind not in "iu" or g.ndim != 3 or g.shape[0] != self.n_nodes or g.shape[2] != 2:
            raise ValueError(f"tw_gaps_s: expected empty or integers of shape (N+1, G, 2), got {g.dtype} {g.shape}")
        for j in range(1, self.n_nodes):
            prev = int(self.tw_open_s[j])
            for k, (a, b) in enumerate(g[j].tolist()):
                if a > b:
                    raise ValueError(f"tw_gaps_s: job {j} gap {k} ends at {b} before it starts at {a}")
                if a == b:
                    continue
                if a < prev or b > int(self.tw_close_s[j]):
                    raise ValueError(
                        f"tw_gaps_s: job {j} gap {k} ({a}, {b}) overlaps an earlier gap or lies outside "
                        f"its window [{int(self.tw_open_s[j])}, {int(self.tw_close_s[j])}]"
                    )
                prev = b


@dataclass(eq=False)
class RoutingSolution:
    """Result of :func:`solvers.routing.solve_routing`.

    Parameters
    ----------
    routes : list of numpy.ndarray of int64
        One entry per vehicle; ``routes[v]`` lists the job node indices
        (``1..N``, original numbering) in visiting order, empty if unused.
    arrival_s : list of numpy.ndarray of int64
        One entry per vehicle, aligned with ``routes[v]``: the solver's
        time cumul at each job, i.e. the earliest service start consistent
        with the route (after any waiting for the window to open). Provided
        for reference; callers are expected to re-time routes themselves.
    dropped : numpy.ndarray of int64
        Sorted job indices that are not served.
    objective : int
        Total cost: OR-Tools objective plus the penalties of jobs that were
        dropped before the search because no vehicle could serve them.
        ``-1`` when there is no solution.
    status : str
        ``"ok"``: a solution was found (it may drop optional jobs).
        ``"no_solution"``: the search found no solution (for instance a
        mandatory job with an impossible window); every job is reported in
        ``dropped``.
        ``"infeasible_input"``: a mandatory job (negative penalty) has no
        vehicle that is allowed, large enough and able to reach it in time,
        so the search was not even started; every job is reported in
        ``dropped``.
    solutions_found : int
        Number of solutions the OR-Tools search went through.
    wall_s : float
        Wall-clock seconds spent in :func:`solve_routing` (model build
        included).
    end_s : numpy.ndarray of int64, shape (V,)
        Solver time cumul at the return to the depot of every vehicle
        (``start_s[v]`` for unused vehicles, ``-1`` without a solution).
    solver_status : str
        Raw OR-Tools routing status name (``"ROUTING_SUCCESS"``,
        ``"ROUTING_PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED"``, ...), or
        ``"NOT_RUN"`` when the search was skipped; ``"PYVRP_FEASIBLE"`` when
        the plan comes from PyVRP.
    engine : str, default "ortools"
        Engine whose plan was kept: ``"ortools"`` or ``"pyvrp"``.
    stats : dict
        Per-engine bookkeeping of :func:`solvers.routing.solve_routing`:
        ``engines_run``, ``<engine>_objective`` (verified objective, or
        ``None``), ``pyvrp_iterations``, ``pyvrp_skipped`` (reason PyVRP did
        not run), ``discarded`` (number of engine results rejected by
        :func:`solvers.routing.check.check_routes`), ``violations`` (messages
        of the rejected results), ``parallel`` (the engines ran at the same time, as separate tasks).
    """

    routes: list[np.ndarray]
    arrival_s: list[np.ndarray]
    dropped: np.ndarray
    objective: int
    status: str
    solutions_found: int
    wall_s: float
    end_s: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    solver_status: str = "NOT_RUN"
    engine: str = "ortools"
    stats: dict = field(default_factory=dict)

    @property
    def start_times_s(self) -> list[np.ndarray]:
        """list of numpy.ndarray: Alias of :attr:`arrival_s` (service start times)."""
        return self.arrival_s

    @property
    def ok(self) -> bool:
        """bool: ``True`` when :attr:`status` is ``"ok"``."""
        return self.status == "ok"

    @property
    def served(self) -> np.ndarray:
        """numpy.ndarray of int64: Sorted job indices served by some vehicle."""
        if not self.routes:
            return np.zeros(0, dtype=np.int64)
        return np.sort(np.concatenate([np.asarray(r, dtype=np.int64) for r in self.routes]))
