"""``mpcbench sweep``: run every case of a declarative suite, skipping cells already stored."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app, err, out
from .common import DEFAULT_RESULTS, Options, ResultsDir, parse_options, stop_on_signals
from .run import progress_bar


def _label(case) -> str:
    """The case id with the options the suite set (e.g. ``variant=tuned``)."""
    options = ",".join(f"{k}={v}" for k, v in sorted(case.options.items()))
    return f"{case.case_id} {options}" if options else case.case_id


@app.command()
def sweep(
    suite: Annotated[Path, typer.Argument(help="Suite file, e.g. benchmarks/demo.yaml.")],
    results: ResultsDir = DEFAULT_RESULTS,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Only list the cases, and why each runs or is skipped.")] = False,
    rerun: Annotated[bool, typer.Option("--rerun", help="Run cells already stored too.")] = False,
    options: Options = None,
) -> None:
    """Run the grid of SUITE; a failing case is stored as failed and the sweep goes on.

    SIGTERM, SIGHUP or SIGINT stops the running case's parties and the sweep, and exits
    with 128 + the signal number.
    """
    from ..errors import MpcbenchError
    from ..launch.runner import code_identity, identity, run_case
    from ..launch.suite import expand, load_suite
    from ..results import ResultsError, load
    from ..results import identity as ident

    spec = load_suite(suite)
    planned = expand(spec, parse_options(options))
    code = code_identity()
    planned_ids, fingerprints = [], []
    for p in planned:
        try:
            planned_ids.append(identity(p.case, code))
            fingerprints.append(ident.fingerprint(planned_ids[-1]))
        except Exception as exc:  # an invalid case fails (and is stored) when it runs
            planned_ids.append(None)
            fingerprints.append(f"unresolved: {type(exc).__name__}: {exc}")
    done: dict[str, str] = {}
    stored_ids: list[dict] = []
    if not rerun and Path(results).exists():
        unreadable: list[ResultsError] = []
        stored = load(results, errors=unreadable)  # one damaged file hides no other run
        for exc in unreadable:
            err.print(f"[yellow]warning:[/yellow] {exc}; skipped", highlight=False,
                      soft_wrap=True)
        ok = stored[stored["status"].eq("ok").fillna(False)].drop_duplicates("run_id")
        done = dict(zip(ok["case_fingerprint"].dropna(), ok["run_id"], strict=False))
        stored_ids = [i for i in map(ident.loads, ok["identity"]) if i is not None]
    todo = [p for p, fp in zip(planned, fingerprints, strict=True) if fp not in done]
    err.print(f"suite {spec.name}: {len(planned)} cases, {len(planned) - len(todo)} already "
              f"in {results}, {len(todo)} to run")
    if dry_run:
        for p, new_id, fp in zip(planned, planned_ids, fingerprints, strict=True):
            if fp in done:
                mark, why = "skip", f"stored (run {done[fp]})"
            elif new_id is None:
                mark, why = "run ", fp
            elif rerun:
                mark, why = "run ", "--rerun"
            else:
                others = set(fingerprints) - {fp}
                mark, why = "run ", ident.explain(new_id, stored_ids, others)
            out.print(f"{mark}  {_label(p.case)}  images={p.case.images} "
                      f"repeats={p.case.repeats} timeout={p.timeout_s:g}s  {why}",
                      highlight=False)
        return
    failures = 0
    with stop_on_signals(), progress_bar() as bar:
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
