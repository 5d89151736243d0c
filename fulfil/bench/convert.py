"""A benchmark instance as a :class:`solvers.routing.RoutingProblem`, per distance convention.

Best-known-solution tables are only comparable in the convention they were
computed in, so every instance is converted in exactly one of three:

``"distance"`` — Solomon / Homberger, pure distance (``solomon/bks_distance_only.csv``)
    Arc length = Euclidean distance truncated to one decimal, in integer
    tenths (``floor(10 * d)``, computed exactly with integer square roots for
    integer coordinates); the travel time is the same number; windows,
    service times and the depot's horizon are multiplied by 10. The fleet is
    the file's vehicle number, fixed cost 0, ``cost_per_m = 1`` (one cost
    unit per tenth), ``cost_per_s = 0``. Costs are reported divided by 10.

``"vehicles"`` — Solomon / Homberger, hierarchical (``bks.csv``, SINTEF TOP)
    Vehicles first, then unrounded Euclidean distance. Arc cost =
    ``round(1000 * d)``; travel time = ``ceil(1000 * d)`` (rounded up, so a
    route the model accepts is also on time in exact arithmetic); windows and
    service times ×1000; every vehicle carries a fixed cost larger than any
    possible total distance, so the solver minimises the number of vehicles
    first. The reported distance is recomputed in floating point from the
    routes (:mod:`fulfil.bench.verify`), never taken from the solver.

``"cvrp"`` — CVRPLIB X set (``cvrp_x/bks.csv``)
    Arc length = Euclidean distance rounded to the nearest integer (TSPLIB
    ``nint``); no time windows (the horizon is wide open); the fleet is
    unlimited in the benchmark, so the model gets a safe upper bound
    (:func:`fleet_size`).

``"dimacs"`` — the multi-trip set with release dates (``mtvrptwr/bks.csv``)
    Arcs truncated to one decimal as in ``"distance"``, reloads allowed, release dates
    ×10 (:func:`to_multitrip`; a :class:`solvers.routing.multitrip.MultiTripInstance`,
    not a ``RoutingProblem``, which has no trips). The cost stays in tenths, the
    ``bks.csv`` integer.

Every customer is mandatory (``penalty = -1``) unless ``mandatory=False``,
in which case dropping one costs more than any total distance and the
verifier reports every dropped customer.
"""

from __future__ import annotations

import math
import re

import numpy as np

from fulfil.readers.vrp import VRPInstance
from solvers.routing import RoutingProblem, RoutingSolution

__all__ = [
    "CONVENTIONS",
    "SCALE",
    "convention_for",
    "distance_matrix",
    "travel_matrix",
    "fleet_size",
    "to_routing_problem",
    "reported_cost",
    "truncated_tenths",
    "rounded_scaled",
    "to_multitrip",
]

#: Supported conventions.
CONVENTIONS: tuple[str, ...] = ("distance", "vehicles", "cvrp")

#: Integer model units per benchmark distance unit.
SCALE: dict[str, int] = {"distance": 10, "vehicles": 1000, "cvrp": 1}

#: Latest return for the CVRP model (no windows): far above any route length.
_CVRP_HORIZON = 10**9


def convention_for(inst: VRPInstance, objective: str | None) -> str:
    """The convention used for ``inst`` under the CLI's ``--objective``.

    Parameters
    ----------
    inst : VRPInstance
        The instance.
    objective : {"distance", "vehicles", None}
        ``None`` means the set's default (``"distance"``).

    Returns
    -------
    str
        ``"cvrp"`` for VRPLIB instances, else ``objective`` or ``"distance"``.

    Raises
    ------
    ValueError
        ``"vehicles"`` requested for a CVRP instance (its benchmark objective
        is distance only), or an unknown objective.
    """
    if objective not in (None, "distance", "vehicles"):
        raise ValueError(f"unknown objective {objective!r}; choose 'distance' or 'vehicles'")
    _check_kind(inst)
    if inst.kind == "cvrp":
        if objective == "vehicles":
            raise ValueError(f"{inst.name}: the CVRP X set's objective is distance only (unlimited fleet); "
                             "--objective vehicles applies to Solomon/Homberger sets")
        return "cvrp"
    return objective or "distance"


def _check_kind(inst: VRPInstance) -> None:
    """The single-trip conversions take VRPTW and CVRP instances; multi-trip ones go through
    :func:`to_multitrip` (``fulfil bench mtvrptwr``)."""
    if inst.kind not in ("vrptw", "cvrp"):
        raise ValueError(f"{inst.name}: {inst.kind} instances have release dates and reloads: "
                         "they are benchmarked by the multi-trip front end (fulfil bench mtvrptwr)")


def _deltas_sq(coords: np.ndarray) -> np.ndarray:
    diff = coords[:, None, :] - coords[None, :, :]
    return diff[..., 0] ** 2 + diff[..., 1] ** 2


def truncated_tenths(coords: np.ndarray) -> np.ndarray:
    """Euclidean distances truncated to one decimal, in integer tenths.

    Parameters
    ----------
    coords : numpy.ndarray, shape (n, 2)
        Node coordinates.

    Returns
    -------
    numpy.ndarray of int64, shape (n, n)
        ``floor(10 * hypot(dx, dy))``. For integer coordinates this is exact
        (the integer square root of ``100 * (dx² + dy²)``), so a distance of
        exactly 5.0 is 50 and never 49 because of rounding noise.
    """
    coords = np.asarray(coords, dtype=np.float64)
    if np.all(coords == np.round(coords)) and np.abs(coords).max(initial=0) < 2**20:
        sq = 100 * _deltas_sq(coords.astype(np.int64))
        r = np.floor(np.sqrt(sq.astype(np.float64))).astype(np.int64)
        r -= (r * r > sq).astype(np.int64)          # fix a float sqrt one too high
        r += ((r + 1) * (r + 1) <= sq).astype(np.int64)  # ... or one too low
        return r
    return np.floor(10.0 * np.sqrt(_deltas_sq(coords)) + 1e-9).astype(np.int64)


def rounded_scaled(coords: np.ndarray, scale: int) -> np.ndarray:
    """``floor(scale * hypot(dx, dy) + 0.5)`` as int64 (nearest integer, halves up)."""
    d = np.sqrt(_deltas_sq(np.asarray(coords, dtype=np.float64)))
    return np.floor(scale * d + 0.5).astype(np.int64)


def distance_matrix(inst: VRPInstance, convention: str) -> np.ndarray:
    """Integer arc lengths of ``inst`` in model units (see :data:`SCALE`)."""
    if convention == "distance":
        return truncated_tenths(inst.coords)
    if convention == "vehicles":
        return rounded_scaled(inst.coords, SCALE["vehicles"])
    if convention == "cvrp":
        return rounded_scaled(inst.coords, 1)
    raise ValueError(f"unknown convention {convention!r}; choose one of {', '.join(CONVENTIONS)}")


def travel_matrix(inst: VRPInstance, convention: str) -> np.ndarray:
    """Integer travel times in model units: the arc length, except ``ceil`` for ``"vehicles"``."""
    if convention == "vehicles":
        d = np.sqrt(_deltas_sq(inst.coords))
        return np.ceil(SCALE["vehicles"] * d - 1e-6).astype(np.int64)
    return distance_matrix(inst, convention)


def fleet_size(inst: VRPInstance, convention: str) -> int:
    """Number of vehicles in the model.

    Solomon / Homberger: the file's vehicle number. CVRP: the fleet is
    unlimited in the benchmark, so a safe upper bound is used:
    ``max(ceil(1.3 k), ceil(total demand / capacity) + 2)`` with ``k`` from
    the ``-k<k>`` part of the name (the file's ``VEHICLES`` when given).
    """
    if convention in ("distance", "vehicles"):
        if inst.vehicles is None:
            raise ValueError(f"{inst.name}: the file gives no vehicle number")
        return int(inst.vehicles)
    lower = math.ceil(int(inst.demand.sum()) / inst.capacity)
    k = inst.vehicles
    if k is None:
        m = re.search(r"-k(\d+)", inst.name)
        k = int(m.group(1)) if m else lower
    return max(math.ceil(1.3 * k), lower + 2)


def _scaled_times(values: np.ndarray, scale: int, what: str, inst: VRPInstance) -> np.ndarray:
    out = np.rint(np.asarray(values, dtype=np.float64) * scale)
    if not np.allclose(out, np.asarray(values, dtype=np.float64) * scale, rtol=0.0, atol=1e-6):
        raise ValueError(f"{inst.name}: {what} has more than {int(math.log10(scale))} decimals; "
                         f"cannot be represented exactly ×{scale}")
    return out.astype(np.int64)


def to_routing_problem(inst: VRPInstance, convention: str, mandatory: bool = True) -> RoutingProblem:
    """Build the project's routing model of ``inst`` in ``convention``.

    Parameters
    ----------
    inst : VRPInstance
        The instance (node 0 = depot).
    convention : {"distance", "vehicles", "cvrp"}
        See the module docstring.
    mandatory : bool, default True
        ``True``: every customer must be served (``penalty = -1``).
        ``False``: dropping a customer costs more than any total distance.

    Returns
    -------
    RoutingProblem
        Node ``i`` of the problem is node ``i`` of the instance; one capacity
        dimension; homogeneous fleet of :func:`fleet_size` vehicles.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; choose one of {', '.join(CONVENTIONS)}")
    _check_kind(inst)
    if (convention == "cvrp") != (inst.kind == "cvrp"):
        raise ValueError(f"{inst.name}: convention {convention!r} does not apply to a {inst.kind} instance")
    n1 = inst.coords.shape[0]
    scale = SCALE[convention]
    dist = distance_matrix(inst, convention)
    travel = travel_matrix(inst, convention)
    V = fleet_size(inst, convention)
    if convention == "cvrp":
        open_ = np.zeros(n1, dtype=np.int64)
        close = np.full(n1, _CVRP_HORIZON, dtype=np.int64)
        service = np.zeros(n1, dtype=np.int64)
        start, end_max = 0, _CVRP_HORIZON
    else:
        open_ = _scaled_times(inst.ready, scale, "a ready time", inst)
        close = _scaled_times(inst.due, scale, "a due date", inst)
        service = _scaled_times(inst.service, scale, "a service time", inst)
        service[0] = 0
        start, end_max = int(open_[0]), int(close[0])
    # Larger than the length of any solution: every node is left once, the
    # depot at most V times, each time along at most the longest arc.
    big = int((n1 - 1 + V) * int(dist.max()) + 1)
    fixed = big if convention == "vehicles" else 0
    penalty = np.full(n1, -1 if mandatory else big * (V + 1), dtype=np.int64)
    penalty[0] = 0
    deadline = max(int(close.max()), end_max, 10 * 86400)
    return RoutingProblem(
        dist_m=dist,
        travel_s=travel,
        site=np.arange(n1, dtype=np.int64),
        service_fixed_s=np.zeros(n1, dtype=np.int64),
        service_var_s=service,
        tw_open_s=open_,
        tw_close_s=close,
        demand=inst.demand.astype(np.int64).reshape(n1, 1),
        capacity=np.full((V, 1), int(inst.capacity), dtype=np.int64),
        allowed=np.ones((V, n1), dtype=bool),
        deadline_s=np.full((V, n1), deadline, dtype=np.int64),
        start_s=np.full(V, start, dtype=np.int64),
        end_max_s=np.full(V, end_max, dtype=np.int64),
        fixed_cost=np.full(V, fixed, dtype=np.int64),
        cost_per_m=np.ones(V, dtype=np.float64),
        cost_per_s=np.zeros(V, dtype=np.float64),
        penalty=penalty,
    )


def reported_cost(problem: RoutingProblem, sol: RoutingSolution, convention: str) -> float | None:
    """What the solver itself claims the distance is, in benchmark units.

    ``(objective - fixed cost of the used vehicles) / scale``, or ``None``
    when the solver gave no objective or dropped customers. Shown for
    information only: the benchmark cost is always recomputed by
    :func:`fulfil.bench.verify.verify_routes`. In the ``"vehicles"``
    convention it is the sum of rounded arcs, so it differs slightly from the
    exact distance.
    """
    if sol.objective is None or sol.objective < 0 or len(sol.dropped):
        return None
    used = [v for v, r in enumerate(sol.routes) if len(r)]
    fixed = int(problem.fixed_cost[used].sum()) if used else 0
    return (int(sol.objective) - fixed) / SCALE[convention]


def to_multitrip(inst: VRPInstance):
    """The multi-trip instance (``kind == "mtvrptwr"``) in integer tenths (DIMACS convention).

    Arc cost = travel time = :func:`truncated_tenths`; windows, service times and release
    dates ×10; the fleet is ``VEHICLES``, each vehicle may reload at the depot without limit
    (``VEHICLES_RELOAD_DEPOT_SECTION``; none: single-trip vehicles, ``max_reloads = 0``).
    """
    from solvers.routing.multitrip import MultiTripInstance

    if inst.kind != "mtvrptwr":
        raise ValueError(f"{inst.name}: a {inst.kind} instance has no release dates or reloads")
    d = truncated_tenths(inst.coords)
    ten = SCALE["distance"]
    return MultiTripInstance(
        dist=d, travel=d.copy(), demand=inst.demand.astype(np.int64),
        ready=_scaled_times(inst.ready, ten, "a ready time", inst),
        due=_scaled_times(inst.due, ten, "a due date", inst),
        service=_scaled_times(inst.service, ten, "a service time", inst),
        release=_scaled_times(inst.release, ten, "a release date", inst),
        capacity=int(inst.capacity), vehicles=int(inst.vehicles),
        max_reloads=None if inst.reload_depots.shape[1] else 0,
    )
