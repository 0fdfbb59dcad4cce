"""``mpcbench clean``: remove what runs whose launcher died left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app, out
from .common import DEFAULT_RESULTS, PathCheck


@app.command()
def clean(results: Annotated[Path, typer.Option(
        "--results", "-r", parser=str, callback=PathCheck(kind="dir"),
        help="Results directory (need not exist).")] = DEFAULT_RESULTS) -> None:
    """Remove what runs whose launcher died (SIGKILL, a crash) left behind: their party,
    pulse and forwarder processes, network namespaces and cgroups on this machine, and in
    RESULTS their temporary files, claims and the log directories of runs that stored
    nothing. Nothing of a live run is touched; every run does this before it starts.

    Prints one line per thing removed, or "nothing to clean".
    """
    from ..launch import leftovers

    removed = leftovers.sweep(results)
    for line in removed or ["nothing to clean"]:
        out.print(line, highlight=False, soft_wrap=True)
