"""``mpcbench compare A B``: per-metric changes between two runs or two results directories."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .app import app, err, out
from .common import DEFAULT_RESULTS, PathCheck, literal, nonempty

#: the largest --factor taken
MAX_FACTOR = 1000.0
_STYLE = {"+": "bold red", "-": "green", "~": "dim", "x": "yellow", "!": "bold red", "": ""}


def _metric_names(values: list[str] | None) -> list[str] | None:
    """``--metric`` callback: each value a metric compare knows."""
    from ..report.compare import METRICS

    unknown = sorted(set(values or []) - set(METRICS))
    if unknown:
        raise typer.BadParameter(f"unknown metric(s) {', '.join(map(repr, unknown))}; choose "
                                 f"from {', '.join(METRICS)}")
    return values


def _value(v: float, unit: str) -> str:
    import pandas as pd  # imported by the comparison already; not at start-up

    return "" if pd.isna(v) else f"{v:.4g} {unit}".strip()


@app.command()
def compare(
    a: Annotated[str, typer.Argument(help="Baseline: run id (in --results) or results directory.",
                                     callback=nonempty)],
    b: Annotated[str, typer.Argument(help="Contender: run id or results directory.",
                                     callback=nonempty)],
    results: Annotated[Path, typer.Option(
        "--results", "-r", parser=str, callback=PathCheck(kind="dir"),
        help="Results directory the run ids are looked up in.")] = DEFAULT_RESULTS,
    factor: Annotated[float, typer.Option(
        help="Ratio beyond which a change counts (B/A > factor or < 1/factor), more than "
             "1.", min=1, max=MAX_FACTOR)] = 1.1,
    tolerance: Annotated[float, typer.Option(
        help="Absolute change that counts for accuracy and agreement.", min=0,
        max=1)] = 0.01,
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", callback=_metric_names,
        help="Only this metric (repeatable): s_per_img, img_per_s, peak_rss_mib, "
             "mib_per_img, rounds_per_img, accuracy, agreement, max_abs_err.")] = None,
    only_changed: Annotated[bool, typer.Option(
        "--only-changed", help="Hide unchanged and insignificant metrics.")] = False,
) -> None:
    """Show how every metric changed from A to B; exit 1 if anything got worse.

    Marks: + worse, - better, ~ changed but not significant (IQRs over repeats overlap),
    x not comparable (case, configuration or weights differ), ! new failure.
    """
    import pandas as pd

    from ..report.compare import METRICS, load_side, regressions
    from ..report.compare import compare as changes_between

    changes = changes_between(load_side(a, results), load_side(b, results), factor, tolerance,
                              metric)
    if only_changed:
        changes = changes[~changes["mark"].isin(["", "~"])]
        if changes.empty:
            out.print(f"nothing changed from {a} to {b} (factor {factor})", highlight=False,
                      soft_wrap=True)
            return
    table = Table(title=f"{a} → {b}  (factor {factor})")
    for col, justify in [("", "center"), ("case", "left"), ("metric", "left"), ("A", "right"),
                         ("B", "right"), ("B/A", "right"), ("note", "left")]:
        table.add_column(col, justify=justify)
    for row in changes.itertuples(index=False):
        m = METRICS.get(row.metric)
        unit = m.unit if m else ""
        ratio = "" if pd.isna(row.ratio) else f"{row.ratio:.3f}"
        table.add_row(*literal([row.mark, row.cell, m.label if m else row.metric,
                                _value(row.value_a, unit), _value(row.value_b, unit), ratio,
                                row.note]), style=_STYLE[row.mark])
    out.print(table)
    worse = regressions(changes)
    if worse:
        err.print(f"[red]{worse} regression(s)[/red] from {a} to {b}")
        raise typer.Exit(1)
