"""``mpcbench versus``: the report's head-to-head table in the terminal: per model x
dataset x parties x network, one line per system with time, traffic, memory and rounds
per image, each as a ratio to the fastest MPC system (or to ``--baseline``'s stock row),
and its security setting, with what each setting protects under it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from ..errors import InputError
from .app import app, err, out
from .common import (
    DEFAULT_RESULTS,
    FrameworkName,
    StoredResults,
    literal,
    nonempty,
    stored_only,
)

if TYPE_CHECKING:
    import pandas as pd

_DASH, _TIMES = "\N{EM DASH}", "\N{MULTIPLICATION SIGN}"
#: measure -> (header, format) of the terminal table; each is followed by its ratio
_MEASURES = {"s_per_img": ("s/img", "{:.4g}"), "mib_per_img": ("MiB/img", "{:.4g}"),
             "peak_rss_mib": ("RSS MiB", "{:.0f}"), "rounds_per_img": ("rounds/img", "{:.4g}")}


#: ``--baseline`` of every command that shows the head-to-head table
Baseline = Annotated[str | None, typer.Option(
    "--baseline", callback=FrameworkName, metavar="FRAMEWORK",
    help="Ratios to this framework's stock row (e.g. crypten) where a group has one, "
         "instead of to the fastest MPC row.")]


def _fmt(value: float, spec: str = "{:.4g}", unit: str = "") -> str:
    import pandas as pd  # imported by then: the table was computed with it

    if pd.isna(value):
        return _DASH
    return (f"{value:,.0f}" if value >= 1000 else spec.format(value)) + unit


def _table(rows: pd.DataFrame, title: str, caption: str) -> Table:
    """One section per group, its reference row in bold; the dataset and network columns
    only where they vary (else in the title)."""
    from ..results.versus import GROUP, RATIOS

    shown = {"model": "model", "dataset": "data", "parties": "n", "network": "net",
             "batch": "batch", "system": "system", "security": "security"}
    same = [c for c in ("dataset", "network") if rows[c].nunique(dropna=False) == 1]
    title += "".join(f", {shown.pop(c)} {rows[c].iloc[0]}" for c in same)
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, show_edge=False)
    for column, header in shown.items():
        table.add_column(header, no_wrap=column in ("parties", "batch", "security"))
    for header, _ in _MEASURES.values():
        table.add_column(header, justify="right", no_wrap=True)
        table.add_column(_TIMES, justify="right", no_wrap=True)
    table.add_column(f"{_TIMES} plain", justify="right", no_wrap=True)
    for _, group in rows.groupby(GROUP, dropna=False, sort=False):
        for _, row in group.iterrows():
            cells = [str(row[c]) for c in shown]
            for measure, (_, spec) in _MEASURES.items():
                cells += [_fmt(row[measure], spec), _fmt(row[RATIOS[measure]], "{:.2f}", _TIMES)]
            table.add_row(*literal([*cells, _fmt(row["slowdown"], "{:.3g}", _TIMES)]),
                          style="bold" if row["is_reference"] else None)
        table.add_section()
    return table


@app.command()
def versus(
    results: StoredResults = DEFAULT_RESULTS,
    baseline: Baseline = None,
    model: Annotated[str | None, typer.Option("--model", "-m", callback=nonempty,
                                              help="Only this model.")] = None,
) -> None:
    """Compare the frameworks head to head: per model x dataset x parties x network, time,
    MiB, peak RSS and rounds per image of each system as a ratio to the fastest MPC
    system (or to --baseline's stock row), its slowdown against plaintext and its
    security setting; under the table, what each setting protects."""
    from ..results import load, summary
    from ..results.versus import relative_to, settings, table

    df = load(results)
    if df.empty:
        raise InputError(f"no results in {results}; run `mpcbench run` or `sweep` first")
    rows = table(summary.summary(df), df, baseline)
    if model is not None:
        rows = stored_only(rows, "model", model, f"no MPC runs of model {model!r} in {results}")
    if rows.empty:
        err.print(f"no MPC runs in {results}: nothing to compare")
        raise typer.Exit(0)
    out.print(_table(rows, f"Head to head: {results}",
                     relative_to(baseline) + " Bold: the reference row."))
    for tag, sentence in settings(rows):
        out.print(f"[bold]{escape(tag)}[/bold]: {escape(sentence)}", highlight=False)
