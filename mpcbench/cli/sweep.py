"""``mpcbench sweep``: run every case of a declarative suite, skipping cells already stored."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app, err, out
from .common import DEFAULT_RESULTS, Options, ResultsDir, parse_options
from .run import progress_bar


def _label(case) -> str:
    """The case id with the options the suite set (e.g. ``variant=tuned``)."""
    options = ",".join(f"{k}={v}" for k, v in sorted(case.options.items()))
    return f"{case.case_id} {options}" if options else case.case_id


@app.command()
def sweep(
    suite: Annotated[Path, typer.Argument(help="Suite file, e.g. benchmarks/demo.yaml.")],
    results: ResultsDir = DEFAULT_RESULTS,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list the cases.")] = False,
    rerun: Annotated[bool, typer.Option("--rerun", help="Run cells already stored too.")] = False,
    options: Options = None,
) -> None:
    """Run the grid of SUITE; a failing case is stored as failed and the sweep goes on."""
    from ..errors import MpcbenchError
    from ..launch.runner import fingerprint, run_case
    from ..launch.suite import expand, load_suite
    from ..results import load

    spec = load_suite(suite)
    planned = expand(spec, parse_options(options))
    done: set[str] = set()
    if not rerun and Path(results).exists():
        stored = load(results)
        done = set(stored.loc[stored["status"] == "ok", "case_fingerprint"].dropna())
    todo = [p for p in planned if fingerprint(p.case) not in done]
    err.print(f"suite {spec.name}: {len(planned)} cases, {len(planned) - len(todo)} already "
              f"in {results}, {len(todo)} to run")
    if dry_run:
        for p in planned:
            mark = "run " if p in todo else "skip"
            out.print(f"{mark}  {_label(p.case)}  images={p.case.images} "
                      f"repeats={p.case.repeats} timeout={p.timeout_s:g}s", highlight=False)
        return
    failures = 0
    with progress_bar() as bar:
        overall = bar.add_task(f"suite {spec.name}", total=len(todo))
        for p in todo:
            task = bar.add_task(f"  {_label(p.case)}", total=None)
            try:
                res = run_case(p.case, results, p.timeout_s,
                               on_progress=lambda d, t, task=task: bar.update(task, completed=d,
                                                                              total=t))
                err.print(f"ok    {_label(p.case)}  run {res.run_id}", highlight=False)
            except MpcbenchError as exc:
                failures += 1
                err.print(f"[red]FAIL[/red]  {_label(p.case)}: {exc}", highlight=False)
            bar.remove_task(task)
            bar.advance(overall)
    if failures:
        err.print(f"{failures} of {len(todo)} cases failed (stored with their errors)")
        raise typer.Exit(1)
