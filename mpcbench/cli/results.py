"""``mpcbench results``: one line per stored run, as a table, CSV or JSON.

The terminal table shows the :data:`COMPACT` columns by default (100 terminal columns
hold them), one line per run, leaving out the last ones a narrower terminal cannot hold;
``--wide`` shows every column of :data:`HEADERS`, ``--columns`` the ones named.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from ..errors import InputError
from .app import app, err, out
from .common import DEFAULT_RESULTS, StoredResults, literal, nonempty, stored_only

if TYPE_CHECKING:
    import pandas as pd

#: summary column -> short header shown in the terminal table; in this order, the
#: ``--wide`` table
HEADERS = {"system": "system", "kind": "kind", "model": "model", "dataset": "data",
           "parties": "n", "network": "net",
           "batch": "batch", "images": "imgs", "dtype": "dtype", "status": "status",
           "s_per_img": "s/img", "img_per_s": "img/s",
           "slowdown": "\N{MULTIPLICATION SIGN} plain",
           "accuracy": "acc", "agreement": "agree", "peak_rss_mib": "RSS MiB",
           "mib_per_img": "MiB/img", "offline_mib_per_img": "offline",
           "rounds_per_img": "rounds/img", "threshold": "t",
           "provider": "provider", "model_shares": "shares", "versions": "versions"}
#: the default table: the columns that tell runs apart and their main figures
COMPACT = ["system", "model", "parties", "network", "s_per_img", "slowdown", "agreement",
           "peak_rss_mib", "mib_per_img", "rounds_per_img"]
#: compact columns kept however narrow the terminal (system, model, parties, network, time)
_KEPT = 5
#: characters of a share set's manifest SHA-256 the table shows
_SHARES_SHOWN = 12
#: columns the wide table leaves out when no run has a value other than 0 in them (no
#: dealer, no share set); the CSV and JSON keep every column
_OPTIONAL = ("offline_mib_per_img", "model_shares")


def _column_names(value: str | None) -> list[str] | None:
    """``--columns`` callback: ``a,b`` -> ``["a", "b"]``, each a column of the runs table."""
    if value is None:
        return None
    from ..results.runs import RUN_COLUMNS

    names = [name.strip() for name in value.split(",")]
    unknown = [name for name in names if name not in RUN_COLUMNS]
    if unknown:
        raise typer.BadParameter(f"no column {', '.join(map(repr, unknown))}; the columns "
                                 f"are {', '.join(RUN_COLUMNS)}")
    return names


#: the mark of the time of a run whose parties outnumbered the cores, and what it means
SLICED = "*"
SLICED_CAPTION = (f"{SLICED} time-sliced: more parties (\N{MULTIPLICATION SIGN} threads) than "
                  "cores, the time includes waiting for a core")

#: options of every command that prints runs as a table
Wide = Annotated[bool, typer.Option("--wide", help="Show every column of the table.")]
Columns = Annotated[str | None, typer.Option(
    "--columns", metavar="A,B,...", callback=_column_names,
    help="Show these columns of the table, e.g. system,status,error (the names of "
         "--format csv).")]


def check_table(wide: bool, columns: list[str] | None) -> None:
    """:class:`InputError` for ``--wide`` with ``--columns``."""
    if wide and columns:
        raise InputError("--wide shows every column, --columns the ones named: give one")


def print_runs(summary: pd.DataFrame, title: str | None = None, wide: bool = False,
               columns: list[str] | None = None) -> None:
    """Print the runs of ``summary`` (:func:`~mpcbench.results.runs.runs`) as a table:
    the :data:`COMPACT` columns that fit the terminal (those left out are named under
    it), every column (``wide``) or ``columns``. The time of a run whose parties
    outnumbered the cores is marked :data:`SLICED` (said under the table)."""
    if wide:
        columns = [c for c in HEADERS
                   if c not in _OPTIONAL or summary[c].replace(0, None).notna().any()]
    shown = list(columns or COMPACT)
    table = _table(summary, shown, title)
    left_out: list[str] = []
    while columns is None and len(shown) > _KEPT and _natural_width(table) > out.width:
        left_out.insert(0, HEADERS[shown.pop()])
        table = _table(summary, shown, title)
    if left_out:
        table.caption = "\n".join(filter(None, [
            table.caption, f"left out to fit {out.width} columns: {', '.join(left_out)} "
                           "(see --columns)"]))
    out.print(table)


def _natural_width(table: Table) -> int:
    """Columns ``table`` takes unwrapped (rich measures within the terminal's width)."""
    return out.measure(table, options=out.options.update_width(10_000)).maximum


def _table(summary: pd.DataFrame, columns: list[str], title: str | None) -> Table:
    """``columns`` of ``summary`` as a table; numbers never wrap. Without a status
    column, a run that is not ok shows its status as its time; the time of a run that
    was time-sliced is marked."""
    shown = summary[columns]
    text = {c: shown[c].map(_fmt) for c in columns}
    if "model_shares" in text:
        text["model_shares"] = text["model_shares"].str[:_SHARES_SHOWN]
    if "s_per_img" in text and "status" not in text:
        text["s_per_img"] = text["s_per_img"].where(summary["status"].eq("ok"),
                                                    summary["status"])
    sliced = (summary["oversubscribed"].astype("boolean").fillna(False).astype(bool)
              & summary["status"].eq("ok"))
    caption = None
    if "s_per_img" in text and sliced.any():
        text["s_per_img"] = text["s_per_img"] + sliced.map({True: f" {SLICED}", False: "  "})
        caption = SLICED_CAPTION
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, show_edge=False)
    for c in columns:
        number = shown[c].dtype.kind in "fiu"
        table.add_column(HEADERS.get(c, c), justify="right" if number else "left",
                         no_wrap=number)
    for row in zip(*text.values(), strict=True):
        table.add_row(*literal(row))
    return table


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
def results(
    results: StoredResults = DEFAULT_RESULTS,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    framework: Annotated[str | None, typer.Option(help="Only this framework.",
                                                  callback=nonempty)] = None,
    wide: Wide = False,
    columns: Columns = None,
) -> None:
    """Summarise every stored run: throughput, accuracy, memory, traffic, security.

    The table shows system, model, parties, network, time per image, slowdown against
    plaintext, agreement, peak RSS, MiB and rounds per image; --wide every column,
    --columns those named. A damaged results file is named on stderr and the others are
    still shown; the exit status is then 1.
    """
    from ..results import ResultsError, load
    from ..results.runs import METRICS_READ, PHASES_READ, READS, runs

    check_table(wide, columns)
    if fmt is not Format.table and (wide or columns):
        raise InputError(f"--wide and --columns choose the table's columns; --format "
                         f"{fmt} has every column")
    unreadable: list[ResultsError] = []
    df = load(results, errors=unreadable, columns=READS, phases=PHASES_READ,
              metrics=METRICS_READ)
    for exc in unreadable:
        err.print(f"[red]error:[/red] {exc}; skipped", highlight=False, soft_wrap=True)
    status = 1 if unreadable else 0
    if framework:
        df = stored_only(df, "framework", framework, f"no runs of {framework!r} in {results}")
    if df.empty:
        err.print(f"no runs in {results}")
        raise typer.Exit(status)
    summary = runs(df)
    if fmt is Format.csv:
        print(summary.to_csv(index=False), end="")
    elif fmt is Format.json:
        print(summary.to_json(orient="records", indent=2, date_format="iso"))
    else:
        print_runs(summary, f"{len(summary)} runs in {results}", wide, columns)
    raise typer.Exit(status)


def _fmt(v: object) -> str:
    import pandas as pd  # imported by the summary already; not at start-up

    if pd.isna(v):
        return "\N{EM DASH}"  # missing: not measured (e.g. MPyC rounds), never shown as 0
    return f"{v:.4g}" if isinstance(v, float) else str(v)
