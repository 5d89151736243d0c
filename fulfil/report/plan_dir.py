"""The plan folder of one night: plan.json, trip sheets, loading lists, unserved lines, summary,
map and temperature charts — written as one set, so that no interruption or kill leaves half of
it or the files of two plans together.

The folder is filled in a fresh temporary folder beside it and swapped in whole
(:func:`fulfil.output.replace_folder_atomic`): an older plan folder there is replaced in one step.
Because the whole folder is replaced, a folder holding anything a plan folder does not hold is
refused (:func:`check_plan_folder`), before any solving.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fulfil.errors import UsageError

if TYPE_CHECKING:
    from fulfil.plan_model import Plan

#: What a plan folder holds; a folder with anything else is not replaced.
PLAN_FOLDER_ENTRIES = frozenset({"plan.json", "route_sheets", "loading_lists", "unserved.csv", "summary.txt",
                                 "map.png", "thermal", "plan.xlsx", "routes.geojson", "map.html",
                                 # a re-plan's (fulfil replan) and the service's additions
                                 "changes.json", "changes.txt", "scenario.json", "check.json"})


def check_plan_folder(out: Path, option: str = "--out") -> None:
    """Raise :class:`UsageError` (exit 2) unless ``out`` can take a plan folder: writable (see
    :func:`fulfil.output.check_output_folder`) and absent, empty or an earlier plan folder."""
    from fulfil.output import check_output_folder

    path = check_output_folder(out, option)
    if not path.is_dir():
        return
    foreign = sorted(e.name for e in path.iterdir() if e.name not in PLAN_FOLDER_ENTRIES)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise UsageError(f"{option} {out}: the folder holds {shown}, which a plan folder does not; the plan "
                         "replaces the folder whole, so name an empty or new folder (or an earlier plan's)")


def _fill(plan: Plan, out: Path, scenario, charts: int | None, extra: dict[str, str]) -> None:
    from fulfil.plan_model import trip_rows, write_plan
    from fulfil.report.tables import loading_list_csv, plan_doc, summary, trip_sheets, unserved_csv

    # the plan's dict once for every report (a large city's takes ~0.15 s to dump each time)
    doc = plan_doc(plan)
    sheets = trip_sheets(doc)
    for folder, files in (("route_sheets", sheets),
                          ("loading_lists", {f"{name[:-4]}.csv": loading_list_csv(row) for name, row in
                                             zip(sheets, trip_rows(doc), strict=True)})):
        (out / folder).mkdir()
        for fname, text in files.items():
            (out / folder / fname).write_text(text, encoding="utf-8")
    (out / "unserved.csv").write_text(unserved_csv(doc), encoding="utf-8")
    (out / "summary.txt").write_text(summary(doc) + "\n", encoding="utf-8")
    if scenario is not None:
        from fulfil.report.charts import write_thermal_charts
        from fulfil.report.floor import write_floor_documents
        from fulfil.report.maps import plot_plan_map

        plot_plan_map(doc, scenario, out / "map.png")
        write_thermal_charts(doc, out, max_routes=charts)
        write_floor_documents(plan, scenario, out)  # plan.xlsx, routes.geojson, map.html
    for name, text in extra.items():
        (out / name).write_text(text, encoding="utf-8")
    del doc, sheets  # not held while plan.json is dumped (peak memory)
    write_plan(plan, out / "plan.json")


def write_plan_dir(plan: Plan, out: Path, scenario=None, charts: int | None = 2,
                   extra: dict[str, str] | None = None) -> None:
    """Write the folder ``out``: plan.json, trip sheets, loading lists, unserved.csv, summary.txt (and
    with ``scenario`` the maps, temperature charts, the Excel workbook and the route GeoJSON), plus
    the ``extra`` text files (names of :data:`PLAN_FOLDER_ENTRIES`, e.g. a re-plan's changes), as
    one set replacing whatever plan was there.

    Raises :class:`UsageError` when ``out`` cannot take a plan folder (:func:`check_plan_folder`).
    """
    from fulfil.output import replace_folder_atomic

    extra = extra or {}
    unknown = sorted(set(extra) - PLAN_FOLDER_ENTRIES)
    if unknown:
        raise ValueError(f"not files of a plan folder: {', '.join(unknown)}")
    check_plan_folder(out)
    replace_folder_atomic(out, lambda tmp: _fill(plan, tmp, scenario, charts, extra))
