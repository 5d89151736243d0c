"""Geography: coordinates, road-distance and travel-time matrices (numpy in, numpy out)."""

from .coords import EARTH_RADIUS_M, check_lonlat, haversine_m, project_local_m
from .matrices import (
    DEFAULT_CIRCUITY_BREAKS_KM,
    DEFAULT_CIRCUITY_FACTORS,
    PARALLEL_MIN_CELLS,
    conservative_time_matrix_s,
    free_flow_seconds,
    read_matrix_csv,
    road_distance_matrix_m,
    travel_seconds,
    travel_seconds_array,
)

__all__ = [
    "EARTH_RADIUS_M",
    "check_lonlat",
    "haversine_m",
    "project_local_m",
    "DEFAULT_CIRCUITY_BREAKS_KM",
    "DEFAULT_CIRCUITY_FACTORS",
    "PARALLEL_MIN_CELLS",
    "road_distance_matrix_m",
    "free_flow_seconds",
    "travel_seconds",
    "travel_seconds_array",
    "conservative_time_matrix_s",
    "read_matrix_csv",
]
