"""``mpcbench sweep``: run every case of a declarative suite, skipping cells already stored
or running in another sweep."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress

from .app import app, err, out, warn
from .common import (
    DEFAULT_RESULTS,
    Options,
    PathCheck,
    ResultsDir,
    parse_options,
    stop_on_signals,
)
from .run import progress_bar

if TYPE_CHECKING:
    from ..launch.suite import Cell
    from ..results.claims import Claims


def _label(case) -> str:
    """The case id with the options the suite set (e.g. ``variant=tuned``)."""
    options = ",".join(f"{k}={v}" for k, v in sorted(case.options.items()))
    return f"{case.case_id} {options}" if options else case.case_id


def _run(cell: Cell, claims: Claims, results: Path, rerun: bool, bar: Progress,
         warned: set[str]) -> bool:
    """Run ``cell`` unless it is stored ok (or ``rerun``) or another sweep runs it; whether
    it failed. Any error of the cell becomes its failed row (:func:`.faults.failed`). A
    warning before its parties start is printed unless it is in ``warned`` (then added);
    the cell's line says ``time-sliced`` either way."""
    from ..launch import faults
    from ..launch.runner import run_case

    label = _label(cell.planned.case)
    sliced: list[str] = []

    def note(message: str) -> None:
        sliced.append(message)
        if message not in warned:
            warned.add(message)
            warn(message)

    try:
        why = claims.claim(cell.key, rerun)
        if why:
            err.print(f"skip  {label}  {why}", highlight=False, soft_wrap=True)
            return False
        task = bar.add_task(f"  {label}", total=None)
        try:
            res = run_case(cell.planned.case, results, cell.planned.timeout_s,
                           on_progress=lambda d, t: bar.update(task, completed=d, total=t),
                           warn=note)
        except Exception as exc:
            why = faults.failed(cell.planned.case, exc, results, cell.identity)
            err.print(f"[red]FAIL[/red]  {label}: {why}", highlight=False, soft_wrap=True)
            return True
        finally:
            bar.remove_task(task)
        err.print(f"ok    {label}  run {res.run_id}" + ("  time-sliced" if sliced else ""),
                  highlight=False, soft_wrap=True)
        return False
    finally:
        claims.release(cell.key)


@app.command()
def sweep(
    suite: Annotated[Path, typer.Argument(help="Suite file, e.g. benchmarks/demo.yaml.",
                                          parser=str,
                                          callback=PathCheck(exists=True, kind="file"))],
    results: ResultsDir = DEFAULT_RESULTS,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Only list the cases, and why each runs or is skipped.")] = False,
    rerun: Annotated[bool, typer.Option(
        "--rerun", help="Run cells already stored too (not those another sweep is running).")
    ] = False,
    options: Options = None,
) -> None:
    """Run the grid of SUITE; a failing case is stored as failed and the sweep goes on.

    Before each case the sweep claims it in the results directory: a case stored ok or
    running in another sweep meanwhile is skipped. An error every next case would meet
    too (a full disk) stops the sweep. SIGTERM, SIGHUP or SIGINT stops the running case's
    parties and the sweep, and exits with 128 + the signal number.
    """
    from ..launch.suite import cells, expand, load_suite
    from ..results import ResultsError
    from ..results import identity as ident
    from ..results.claims import Claims

    spec = load_suite(suite)
    expanded = expand(spec, parse_options(options))
    plan = cells(expanded)
    claims = Claims(results)
    done: dict[str, str] = {}
    stored_ids: list[dict] = []
    if not rerun:
        unreadable: list[ResultsError] = []
        ok = claims.stored(unreadable)  # one damaged file hides no other run
        for exc in unreadable:
            warn(f"{exc}; skipped")
        done = dict(zip(ok["case_fingerprint"], ok["run_id"], strict=True))
        stored_ids = [i for i in map(ident.loads, ok["identity"]) if i is not None]
    todo = [c for c in plan if c.key not in done]
    twice = len(expanded) - len(plan)
    err.print(f"suite {spec.name}: {len(plan)} cases"
              + (f" ({twice} duplicates left out)" if twice else "")
              + f", {len(plan) - len(todo)} already in {results}, {len(todo)} to run",
              highlight=False, soft_wrap=True)
    if dry_run:
        keys = {c.key for c in plan}
        for c in plan:
            if c.key in done:
                mark, why = "skip", f"stored (run {done[c.key]})"
            elif c.identity is None:
                mark, why = "run ", f"unresolved: {c.problem}"
            elif rerun:
                mark, why = "run ", "--rerun"
            else:
                mark, why = "run ", ident.explain(c.identity, stored_ids, keys - {c.key})
            case = c.planned.case
            out.print(f"{mark}  {_label(case)}  images={case.images} "
                      f"repeats={case.repeats} timeout={c.planned.timeout_s:g}s  {why}",
                      highlight=False)
        return
    failures = 0
    warned: set[str] = set()
    with stop_on_signals(), progress_bar() as bar:
        overall = bar.add_task(f"suite {spec.name}", total=len(todo))
        for cell in todo:
            failures += _run(cell, claims, results, rerun, bar, warned)
            bar.advance(overall)
    if failures:
        err.print(f"{failures} of {len(todo)} cases failed (stored with their errors)")
        raise typer.Exit(1)
