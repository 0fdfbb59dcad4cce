"""``mpcbench check``: compare a results directory's runs table with its files, and
rebuild it from them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app, err, out
from .common import DEFAULT_RESULTS, PathCheck


@app.command()
def check(
    results: Annotated[Path, typer.Option(
        "--results", "-r", parser=str, callback=PathCheck(exists=True, kind="dir"),
        help="Results directory.")] = DEFAULT_RESULTS,
    repair: Annotated[bool, typer.Option(
        "--repair", help="Store the runs table rebuilt from the files.")] = False,
    upgrade: Annotated[bool, typer.Option(
        "--upgrade", help="Rewrite the files of older schema versions in the current one "
                          "(the same rows, read faster), then --repair.")] = False,
) -> None:
    """Rebuild the runs table of RESULTS (runs.parquet: one record per run) from the
    result files and compare it with the stored one: one line per difference (a file the
    table does not name, a record that differs, a file that cannot be read), or "runs
    table and files agree". Exit status 1 on a difference; with --repair the rebuilt
    table is stored and the status is 1 only if a damaged file is left (out of it).

    Files written before a run's record was kept once per file (schema version 7) are
    migrated each time they are read; --upgrade rewrites them once, each as the rows it
    reads as, and replaces each file whole, so a store keeps no partial file.
    """
    from ..results import catalog

    if upgrade:
        upgraded, found = catalog.upgrade(results)
        out.print(f"{len(upgraded)} files rewritten in the current schema version",
                  highlight=False)
        repair = True
    else:
        found = catalog.check(results, repair=repair)
    for line in found:
        err.print(line, highlight=False, soft_wrap=True)
    if not found:
        out.print(f"runs table and files agree ({len(catalog.records(results))} runs)",
                  highlight=False)
    elif repair:
        out.print(f"{catalog.TABLE} rebuilt from the files", highlight=False)
    damaged = any(line.startswith(catalog.UNREADABLE) for line in found)
    raise typer.Exit(1 if found and (damaged or not repair) else 0)
