"""``mpcbench report``: the results table as a self-contained HTML report with figures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app, err, out
from .common import DEFAULT_RESULTS, OutDir, StoredResults
from .versus import Baseline


@app.command()
def report(
    results: StoredResults = DEFAULT_RESULTS,
    out_dir: Annotated[Path, typer.Option("--out", "-o", parser=str, callback=OutDir,
                                          help="Directory to write the report to.")]
    = Path("report"),
    baseline: Baseline = None,
) -> None:
    """Write index.html (figures embedded) plus every figure as PNG/SVG and table as CSV.

    It opens with the frameworks head to head: ratios to each group's fastest MPC row,
    or to --baseline's stock row."""
    from ..launch.catalog import framework_kinds
    from ..report import build

    with err.status(f"building the report of {results} ..."):
        index = build(results, out_dir, expected=framework_kinds(), baseline=baseline)
    out.print(str(index.resolve()), highlight=False, soft_wrap=True)
