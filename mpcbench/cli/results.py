"""``mpcbench results``: one line per stored run, as a table, CSV or JSON."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from .app import app, err, out
from .common import DEFAULT_RESULTS, ResultsDir

#: summary column -> short header shown in the terminal table
TABLE_COLUMNS = {"system": "system", "kind": "kind", "model": "model", "dataset": "data",
                 "parties": "n", "network": "net",
                 "batch": "batch", "images": "imgs", "dtype": "dtype", "status": "status",
                 "s_per_img": "s/img", "img_per_s": "img/s",
                 "slowdown": "x plain",
                 "accuracy": "acc", "agreement": "agree", "peak_rss_mib": "RSS MiB",
                 "mib_per_img": "MiB/img", "offline_mib_per_img": "offline",
                 "rounds_per_img": "rounds/img", "threshold": "t",
                 "provider": "provider", "model_shares": "shares", "versions": "versions"}
#: characters of a share set's manifest SHA-256 the table shows
_SHARES_SHOWN = 12
#: columns the terminal table leaves out when no run has a value other than 0 in them (no
#: dealer, no share set); the CSV and JSON keep every column
_OPTIONAL = ("offline_mib_per_img", "model_shares")


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
def results(
    results: ResultsDir = DEFAULT_RESULTS,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    framework: Annotated[str | None, typer.Option(help="Only this framework.")] = None,
) -> None:
    """Summarise every stored run: throughput, accuracy, memory, traffic, security.

    A damaged results file is named on stderr and the others are still shown; the exit
    status is then 1.
    """
    from ..results import ResultsError, load
    from ..results.summary import runs

    unreadable: list[ResultsError] = []
    df = load(results, errors=unreadable)
    for exc in unreadable:
        err.print(f"[red]error:[/red] {exc}; skipped", highlight=False, soft_wrap=True)
    status = 1 if unreadable else 0
    if framework:
        df = df[df["framework"] == framework]
    if df.empty:
        err.print(f"no runs in {results}")
        raise typer.Exit(status)
    summary = runs(df)
    if fmt is Format.csv:
        print(summary.to_csv(index=False), end="")
    elif fmt is Format.json:
        print(summary.to_json(orient="records", indent=2, date_format="iso"))
    else:
        columns = [c for c in TABLE_COLUMNS
                   if c not in _OPTIONAL or summary[c].replace(0, None).notna().any()]
        shown = summary[columns].rename(columns=TABLE_COLUMNS)
        if "shares" in shown:
            shown["shares"] = shown["shares"].str[:_SHARES_SHOWN]
        table = Table(title=f"{len(summary)} runs in {results} (--format csv for all columns)")
        for col in shown.columns:
            table.add_column(col, justify="right" if shown[col].dtype.kind in "fiu" else "left")
        for _, row in shown.iterrows():
            table.add_row(*(_fmt(v) for v in row))
        out.print(table)
    raise typer.Exit(status)


def _fmt(v: object) -> str:
    if pd.isna(v):
        return "\N{EM DASH}"  # missing: not measured (e.g. MPyC rounds), never shown as 0
    return f"{v:.4g}" if isinstance(v, float) else str(v)
