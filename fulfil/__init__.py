"""fulfil: nightly route plans for community group-buying logistics.

Central warehouse → forward (grid) warehouses → pickup points, with temperature
zones kept and fresh goods delivered within the 2-hour promise.  Heavy engines
(OR-Tools, numba) are imported only by the functions that use them.
"""

__version__ = "0.1.0"
