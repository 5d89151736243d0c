"""Single-depot vehicle routing with time windows on OR-Tools.

Pure numpy in, numpy / dataclasses out (no pydantic, no ``fulfil``), so that
subproblems can be solved in worker processes.

Examples
--------
>>> from solvers.routing import RoutingParams, solve_routing  # doctest: +SKIP
>>> sol = solve_routing(problem, RoutingParams(time_limit_s=None, solution_limit=200))  # doctest: +SKIP
"""

from .problem import RoutingProblem, RoutingSolution
from .solve import RoutingParams, solve_routing

__all__ = ["RoutingParams", "RoutingProblem", "RoutingSolution", "solve_routing"]
