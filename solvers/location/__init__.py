"""Facility location engines on plain arrays: capacitated (CFLP) and p-median.

>>> from solvers.location import solve_cflp, solve_pmedian  # doctest: +SKIP
>>> res = solve_cflp(fixed_cost, capacity, demand, alloc_cost)  # doctest: +SKIP
>>> res.open, res.objective, res.optimal, res.bound  # doctest: +SKIP
"""

from .facility import GAP_TOL, FacilityResult, solve_cflp, solve_pmedian
from .graph import shortest_path_matrix

__all__ = ["FacilityResult", "GAP_TOL", "solve_cflp", "solve_pmedian", "shortest_path_matrix"]
