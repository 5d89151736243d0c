"""The exact timing and cold chain of each trip, computed once per planning run.

The cold-chain repair and the assembly both need every last-mile trip timed and run through
the thermal model.  ``plan_night`` makes one :class:`TripWork` and hands it to both.  Trips
are never changed in place (a trip that loses stops is a new :class:`RoutedTrip`), so the
trip object identifies its work; the cache keeps the trip alive, so its ``id`` is not reused.
"""

from __future__ import annotations

from fulfil.night import CompiledNight
from fulfil.stages.cold_chain import failing_handovers, trip_cold_chain
from fulfil.stages.timing import TimedTrip, time_trip
from fulfil.stages.types import RoutedTrip


class TripWork:
    def __init__(self, night: CompiledNight):
        self.night = night
        self._timed: dict[int, tuple[RoutedTrip, TimedTrip]] = {}
        self._cold: dict[int, tuple[RoutedTrip, tuple]] = {}

    def timed(self, rt: RoutedTrip) -> TimedTrip:
        hit = self._timed.get(id(rt))
        if hit is None or hit[0] is not rt:
            hit = (rt, time_trip(self.night, rt))
            self._timed[id(rt)] = hit
        return hit[1]

    def cold_chain(self, rt: RoutedTrip) -> tuple[dict | None, list[dict[str, dict]]]:
        """:func:`.cold_chain.trip_cold_chain` of the trip (shared, not copied: do not modify it)."""
        hit = self._cold.get(id(rt))
        if hit is None or hit[0] is not rt:
            hit = (rt, trip_cold_chain(self.night, self.timed(rt)))
            self._cold[id(rt)] = hit
        return hit[1]

    def out_of_spec(self, rt: RoutedTrip) -> list[tuple[int, int]]:
        """``(stop index, zone)`` of every hand-over of ``rt`` out of specification."""
        return failing_handovers(self.cold_chain(rt)[1])
