"""The picture every ``fulfil bench`` run writes beside ``results.csv``: gap per instance, ours and each peer.

``DIR/gaps.png``: one column per instance (in the run's order), one marker series per solver
(ours first), the gap in percent on the y axis and each solver's mean gap in the legend. A
solver with no feasible solution on an instance has no marker there (its count of missing
points is in the legend). What "gap" means is the caller's: to the best known solution for
the standard sets, to the best solver of the same subproblem for scenario files.

matplotlib is imported when a chart is drawn, on a figure with its own Agg canvas
(:func:`fulfil.report.charts.new_figure`), written atomically.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["GAPS_PNG", "write_gap_chart"]

#: File name of the chart inside the bench output folder.
GAPS_PNG = "gaps.png"

_MARKERS = "os^Dv<>P*X"


def write_gap_chart(path: str | Path, rows: list[dict], solvers: list[str], *, title: str,
                    ylabel: str = "gap to best known (%)", key: str = "instance") -> Path:
    """Draw ``rows`` (``row[key]``, ``row["solver"]``, ``row["gap_pct"]`` or ``None``) to ``path``.

    Parameters
    ----------
    path : str or Path
        The PNG to write (atomically).
    rows : list of dict
        One row per (instance, solver); instances appear on the x axis in first-seen order.
    solvers : list of str
        Series to draw, in legend order.
    title, ylabel : str
        Chart title and y-axis label.
    key : str, default "instance"
        Row field naming the instance.

    Returns
    -------
    Path
        ``path``.
    """
    from fulfil.report.charts import new_figure, save_figure

    names = list(dict.fromkeys(str(r[key]) for r in rows))
    pos = {n: i for i, n in enumerate(names)}
    fig = new_figure((min(24.0, max(6.0, 2.0 + 0.16 * len(names))), 4.2), 110)
    ax = fig.add_subplot(1, 1, 1)
    for k, s in enumerate(solvers):
        pts = [(pos[str(r[key])], float(r["gap_pct"])) for r in rows
               if r["solver"] == s and r.get("gap_pct") is not None]
        mine = sum(1 for r in rows if r["solver"] == s)
        if not mine:
            continue
        label = s if not pts else f"{s} (mean {sum(g for _, g in pts) / len(pts):+.2f} %)"
        if len(pts) < mine:
            label += f", {mine - len(pts)} without a gap"
        ax.plot([x for x, _ in pts], [g for _, g in pts], linestyle="none", marker=_MARKERS[k % len(_MARKERS)],
                markersize=4.5, alpha=0.85, label=label)
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    ax.set_xlim(-0.7, max(0.7, len(names) - 0.3))
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names if len(names) <= 160 else [""] * len(names), rotation=90,
                       fontsize=7 if len(names) > 30 else 8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    save_figure(fig, path)
    return Path(path)
