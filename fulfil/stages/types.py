"""Plain data passed between the planning stages (no solver objects, no pydantic)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: The two tiers; ``Tier.TRUNK`` and ``Tier.LAST_MILE`` are the values used everywhere
#: inside the planner (the vehicle arrays' ``tier`` column holds the same integers).
TRUNK = 0
LAST_MILE = 1
TIER_NAME = {TRUNK: "trunk", LAST_MILE: "last_mile"}


@dataclass
class Job:
    """One routing node: what a vehicle hands over at one site in one visit."""

    site: int  # global site index
    owner: int  # pickup index (last mile) or forward index (trunk)
    zones: tuple[int, ...]
    crates: np.ndarray  # int64[Z]
    kg: np.ndarray  # float64[Z]
    units: dict[int, int] = field(default_factory=dict)  # product index → units (last mile)


@dataclass(frozen=True)
class UnservedLine:
    pickup: int
    product: int
    units: int
    reason: str
    detail: str


@dataclass
class Subproblem:
    tier: int  # TRUNK or LAST_MILE
    owner: int  # forward index (last mile) or central index (trunk)
    depot: int  # global site index
    jobs: list[Job]
    vehicles: list[tuple[int, int]]  # (vehicle type, index within type)
    problem: Any  # solvers.routing.RoutingProblem
    #: thermal proxy limits used to build it: (vehicle type, zone) → minutes
    cold_limits: dict[tuple[int, int], float] = field(default_factory=dict)
    #: latest return of each vehicle, clock minutes (None: its shift's close), and the routing
    #: vehicle each later wave of a vehicle goes with (-1: a first wave; None: one wave)
    end_min: np.ndarray | None = None
    lead: np.ndarray | None = None

    @property
    def key(self) -> tuple[int, int]:
        return (self.tier, self.owner)


@dataclass
class RoutedTrip:
    """One trip of one vehicle: leave ``depot`` at ``departure_min``, hand over ``jobs`` in order."""

    tier: int
    vtype: int
    vindex: int
    depot: int  # global site index
    departure_min: float
    jobs: list[Job]
