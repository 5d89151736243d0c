"""Distances and travel times between the scenario's sites — shared by solver and checker.

Sites are addressed by a global index: central warehouses first, then forward
warehouses, then pickup points (scenario order).  Distances come from great-circle
× circuity bands (:mod:`geo.matrices`) or from the scenario's matrix file; free-flow
times from distance and a speed profile's free-flow speed, or from the file's
minutes.  The real time of a leg is the time-dependent traversal of its free-flow
time (``geo.matrices.travel_seconds``).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fulfil.errors import ScenarioError
from fulfil.textio import os_problem, shown

if TYPE_CHECKING:
    from fulfil.scenario.schema import Scenario


class TravelModel:
    """Matrices over the scenario's sites, computed on demand (never the full N×N for big cities)."""

    def __init__(self, scenario: Scenario):
        s = scenario
        recs = [*s.central_warehouses, *s.forward_warehouses, *s.pickup_points]
        self.ids: list[str] = [r.id for r in recs]
        self.index: dict[str, int] = {k: i for i, k in enumerate(self.ids)}
        self.lon = np.array([r.lon for r in recs], dtype=np.float64)
        self.lat = np.array([r.lat for r in recs], dtype=np.float64)
        self.n_central = len(s.central_warehouses)
        self.n_forward = len(s.forward_warehouses)
        self.breaks = tuple(s.policies.circuity_breaks_km)
        self.factors = tuple(s.policies.circuity_factors)
        self.profiles = {p.id: p for p in s.speed_profiles}
        self._user_dist: np.ndarray | None = None
        self._user_min: np.ndarray | None = None
        self._user_kmh: float | None = None
        if s.matrix is not None:
            self._load_user_matrix(s.matrix.path, s.matrix.free_flow_kmh)

    def _load_user_matrix(self, path: str, kmh: float | None) -> None:
        """Read the matrix file.  The loader has checked it already (naming the scenario file); these
        errors remain for a scenario built in code, or a file changed since it was loaded."""
        from geo.matrices import read_matrix_csv

        name = shown(Path(path).name)
        try:
            ids, dist_km, minutes = read_matrix_csv(path, name=name)
        except ValueError as exc:
            raise ScenarioError(f"matrix.path: {shown(str(exc), 400)}") from None
        except OSError as exc:
            raise ScenarioError(f"matrix.path: {name}: cannot read it: {os_problem(exc)}") from None
        pos = {k: i for i, k in enumerate(ids)}
        missing = [k for k in self.ids if k not in pos]
        if missing:
            raise ScenarioError(
                f"matrix.path: {name}: {len(missing)} of the scenario's sites are missing from the matrix, "
                f"e.g. '{missing[0]}'"
            )
        order = np.array([pos[k] for k in self.ids])
        self._user_dist = np.ascontiguousarray(dist_km[np.ix_(order, order)] * 1000.0)
        if minutes is not None:
            self._user_min = np.ascontiguousarray(minutes[np.ix_(order, order)])
        elif kmh is None:
            raise ScenarioError("matrix.free_flow_kmh: needed when the matrix file has no minutes column")
        self._user_kmh = kmh

    # -- index helpers -------------------------------------------------------------
    def central_index(self, c: int) -> int:
        return c

    def forward_index(self, f: int) -> int:
        return self.n_central + f

    def pickup_index(self, p: int) -> int:
        return self.n_central + self.n_forward + p

    # -- matrices ------------------------------------------------------------------
    def distance_m(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Road distance in metres, ``float64[len(a), len(b)]``."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        if self._user_dist is not None:
            return self._user_dist[np.ix_(a, b)]
        from geo.matrices import road_distance_matrix_m

        return road_distance_matrix_m(self.lon[a], self.lat[a], self.lon[b], self.lat[b], self.breaks, self.factors)

    def free_flow_s(self, a: np.ndarray, b: np.ndarray, profile: str, dist_m: np.ndarray | None = None) -> np.ndarray:
        """Free-flow seconds ``float64[len(a), len(b)]`` for a speed profile."""
        if self._user_min is not None:
            return self._user_min[np.ix_(np.asarray(a), np.asarray(b))] * 60.0
        d = self.distance_m(a, b) if dist_m is None else dist_m
        kmh = self._user_kmh if self._user_kmh is not None else self.profiles[profile].free_flow_kmh
        return d / (kmh / 3.6)

    def hourly_factors(self, profile: str) -> np.ndarray:
        return np.asarray(self.profiles[profile].hourly_factors, dtype=np.float64)

    @cached_property
    def _factor_cache(self) -> dict[str, np.ndarray]:
        return {k: self.hourly_factors(k) for k in self.profiles}

    @cached_property
    def _clocks(self) -> dict:
        from geo.matrices import TravelClock

        return {k: TravelClock(f) for k, f in self._factor_cache.items()}

    def travel_min(self, free_s: float, depart_min: float, profile: str) -> float:
        """Real minutes of a leg of ``free_s`` free-flow seconds leaving at ``depart_min`` (time-dependent)."""
        return self._clocks[profile](free_s, depart_min * 60.0) / 60.0

    def leg(self, a: int, b: int, depart_min: float, profile: str) -> tuple[float, float]:
        """``(km, minutes)`` of one leg departing at ``depart_min`` (exact, time-dependent)."""
        d = float(self.distance_m(np.array([a]), np.array([b]))[0, 0])
        f = float(self.free_flow_s(np.array([a]), np.array([b]), profile, np.array([[d]]))[0, 0])
        return d / 1000.0, self.travel_min(f, depart_min, profile)

    def path_legs(self, sites: list[int], profile: str) -> tuple[list[float], list[float]]:
        """``(metres, free-flow seconds)`` of every leg of ``sites[0] → sites[1] → …`` in one call.

        The same numbers as :meth:`leg` leg by leg (the distance kernel is elementwise); time
        each leg at its own departure with :meth:`travel_min`.
        """
        if len(sites) < 2:
            return [], []
        a = np.asarray(sites[:-1], dtype=np.int64)
        b = np.asarray(sites[1:], dtype=np.int64)
        if self._user_dist is not None:
            d = self._user_dist[a, b]
        else:
            from geo.matrices import road_distance_matrix_m

            d = np.diagonal(road_distance_matrix_m(self.lon[a], self.lat[a], self.lon[b], self.lat[b], self.breaks,
                                                   self.factors, parallel=False)).copy()
        if self._user_min is not None:
            f = self._user_min[a, b] * 60.0
        else:
            kmh = self._user_kmh if self._user_kmh is not None else self.profiles[profile].free_flow_kmh
            f = d / (kmh / 3.6)
        return d.tolist(), f.tolist()
