"""The plan folder of one night: plan.json, trip sheets, loading lists, unserved lines, summary,
map and temperature charts — written so that an interruption never leaves half of it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fulfil.plan_model import Plan


def _replace_folder(out: Path, name: str, files: dict[str, str]) -> None:
    """Write ``files`` into a fresh temporary folder, then swap it in for ``out/name`` whole."""
    from fulfil.output import replace_folder_atomic

    def fill(tmp: Path) -> None:
        for fname, text in files.items():
            (tmp / fname).write_text(text, encoding="utf-8")

    replace_folder_atomic(out / name, fill)


def write_plan_dir(plan: Plan, out: Path, scenario=None, charts: int | None = 2) -> None:
    """Write plan.json, trip sheets, loading lists, unserved.csv, summary.txt (and with ``scenario``
    the map and temperature charts).  Each file is replaced atomically, the sheet folders as a
    whole, and plan.json comes last: its presence means the rest is complete."""
    from fulfil.output import write_text_atomic
    from fulfil.plan_model import trip_rows, write_plan
    from fulfil.report.tables import loading_list_csv, plan_doc, summary, trip_sheets, unserved_csv

    out.mkdir(parents=True, exist_ok=True)
    # the plan's dict once for every report (a large city's takes ~0.15 s to dump each time)
    doc = plan_doc(plan)
    sheets = trip_sheets(doc)
    _replace_folder(out, "route_sheets", sheets)
    _replace_folder(out, "loading_lists", {f"{name[:-4]}.csv": loading_list_csv(row) for name, row in
                                           zip(sheets, trip_rows(doc), strict=True)})
    write_text_atomic(out / "unserved.csv", unserved_csv(doc))
    write_text_atomic(out / "summary.txt", summary(doc) + "\n")
    if scenario is not None:
        from fulfil.report.charts import write_thermal_charts
        from fulfil.report.maps import plot_plan_map

        plot_plan_map(doc, scenario, out / "map.png")
        write_thermal_charts(doc, out, max_routes=charts)
    del doc, sheets  # not held while plan.json is dumped (peak memory)
    write_plan(plan, out / "plan.json")
