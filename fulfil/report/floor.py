"""Documents for the warehouse floor and the dispatcher, written beside ``plan.json``:

* ``plan.xlsx`` — overview, route sheet and loading list per trip, unserved lines
  (:mod:`fulfil.report.workbook`);
* ``routes.geojson`` — trips, stops, warehouses and unserved points, RFC 7946 WGS-84
  (:mod:`fulfil.report.geojson`);
* ``map.html`` — the interactive map, one file that works with no internet
  (:mod:`fulfil.report.html_map`).

Every document is built in memory first and only then written, each file atomically: a bad plan
or scenario raises before anything is written, and an interruption never leaves half a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fulfil.plan_model import Plan
    from fulfil.scenario.schema import Scenario

#: The files :func:`write_floor_documents` writes, in order.
FLOOR_FILES = ("plan.xlsx", "routes.geojson", "map.html")


def write_floor_documents(plan: Plan, scenario: Scenario, folder: Path) -> list[Path]:
    """Write :data:`FLOOR_FILES` into ``folder``; returns their paths.  ``scenario`` is the one
    the plan was made from (sites' names and coordinates, windows, products)."""
    from fulfil.output import write_bytes_atomic
    from fulfil.report.geojson import geojson_text
    from fulfil.report.html_map import map_html
    from fulfil.report.tables import plan_doc
    from fulfil.report.workbook import plan_workbook

    doc = plan_doc(plan)  # dumped once for all three
    contents = {
        "plan.xlsx": plan_workbook(doc, scenario),
        "routes.geojson": geojson_text(doc, scenario).encode("utf-8"),
        "map.html": map_html(doc, scenario).encode("utf-8"),
    }
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in FLOOR_FILES:
        write_bytes_atomic(folder / name, contents[name])
        paths.append(folder / name)
    return paths
