"""Run one case end to end: check it, launch its parties, score it, store its rows.

:func:`run_case` orchestrates and nothing else: the checks are :mod:`.checks`', what a
kind of run checks, records and scores is its workload's (:mod:`.workloads`), and the
identity and the rows as stored are :mod:`.record`'s.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..case import NO_NETWORK, Case
from ..errors import RunFailed
from ..parties import shares
from ..parties.context import PartyContext, spec_json
from ..results import store
from . import checks, leftovers, logdirs, record
from .contention import Neighbours
from .local import LaunchError, launch
from .placement import Placement, Placer, emulated
from .placement import local as placement_local
from .share_sets import write_share_manifest
from .workloads import WorkloadRun

DEFAULT_TIMEOUT_S = 600.0
#: the placement of a run that failed to place its parties
_NOWHERE = Placement((), (), ())


@dataclass(frozen=True)
class RunResult:
    """A stored run: its id, the file its rows went to, and the rows."""

    run_id: str
    path: Path
    rows: pd.DataFrame


def party_context(case: Case, placement: Placement, threads: int | None = None,
                  run_id: str = "", save_shares: Path | None = None) -> PartyContext:
    """What every party of ``case`` placed by ``placement`` is told (rank unset)."""
    return PartyContext(rank=-1, parties=case.parties, case=case,
                        threads=threads or max(1, (os.cpu_count() or 1) // case.parties),
                        addresses=placement.addresses, run_id=run_id,
                        save_shares=None if save_shares is None else str(save_shares))


def spec_text(case: Case, placement: Placement, threads: int | None = None) -> str:
    """The run spec the parties of ``case`` placed by ``placement`` read, one line (for
    parties started by hand: ``mpcbench run --print-commands``)."""
    return spec_json(party_context(case, placement, threads))


def run_case(
    case: Case,
    results_dir: Path,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    port: int | None = None,
    threads: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    place: Placer | None = None,
    save_shares: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> RunResult:
    """Run ``case`` with one process per party and append its rows.

    ``place(parties)`` says where the parties run and how they start, for the time of
    the run (default: this machine, on free loopback ports or on ``port`` and up; see
    :mod:`.placement`) and the backend's dealers (ranks ``parties ..``, rows with
    ``role = "dealer"``); it is entered after the case is checked. With ``save_shares``,
    each party writes its shares of the shared model there and the launcher the
    manifest (:mod:`mpcbench.parties.shares`). A failed or timed-out
    run is stored too (one row with its status and error) and then re-raised, so a
    sweep's table shows what broke. ``warn`` is told, before the parties start, when
    they outnumber the cores (:func:`.record.oversubscription`). What runs whose
    launcher died left behind is removed first (:mod:`.leftovers`).
    """
    work = checks.check(case, save_shares)
    model_record = work.model_record()  # the range check: before any party starts
    results_dir = Path(results_dir)
    leftovers.sweep(results_dir)
    run_id = record.new_run_id()
    with ExitStack() as stack:
        placement = _place(stack, work, place or _placer(case, port), threads, run_id,
                           results_dir)
        work.check_placed(placement)
        work.prepare(placement)
        if save_shares is not None:
            stack.enter_context(shares.discarded_on_failure(save_shares, run_id))
        ctx = party_context(case, placement, threads, run_id, save_shares)
        if warn is not None and (sliced := record.oversubscription(ctx, placement)):
            warn(sliced)
        neighbours = Neighbours(run_id) if placement.on_this_machine else None
        columns = record.columns(work, ctx, run_id, placement, model_record)
        work_dir = logdirs.make(results_dir, run_id)
        outputs = _launch(ctx, work_dir, timeout_s, on_progress, placement, neighbours,
                          columns, results_dir)
    per_rank = record.party_rows(outputs, placement.hosts)
    logits = record.assemble_logits(outputs, case.images)
    run_rows = work.score(per_rank, logits, outputs, ctx.threads)
    config = record.run_config(outputs, placement, neighbours)
    if save_shares is not None:
        config["saved_shares"] = _share_manifest(work, run_id, save_shares, outputs)
    rows = record.measured(columns, per_rank, run_rows, config, outputs,
                           neighbours.contended if neighbours else None,
                           work.backend.cached_metrics(case))
    path = _store(rows, run_id, results_dir, work_dir)
    return RunResult(run_id, path, store.read_file(path))


def _placer(case: Case, port: int | None) -> Placer:
    """The default placement: this machine's loopback, or each party its own emulated
    host on the case's network."""
    return emulated(case.network) if case.network != NO_NETWORK else placement_local(port)


def _place(stack: ExitStack, work: WorkloadRun, placer: Placer, threads: int | None,
           run_id: str, results_dir: Path) -> Placement:
    """The placement of the run's parties and dealers, held by ``stack``; a placement
    that fails is stored as the run's failure."""
    case = work.case
    try:
        return stack.enter_context(placer(case.parties + work.dealers))
    except RunFailed as exc:
        ctx = party_context(case, _NOWHERE, threads)
        record.store_failure(record.columns(work, ctx, run_id), exc, results_dir)
        raise


def _launch(ctx: PartyContext, work_dir: Path, timeout_s: float,
            on_progress: Callable[[int, int], None] | None, placement: Placement,
            neighbours: Neighbours | None, columns: dict, results_dir: Path) -> list[dict]:
    """Every party's result line; a launch that fails is stored as the run's failure,
    with the placement's record and what it knows of the cause."""
    try:
        return launch(ctx, work_dir, timeout_s, on_progress, placement, neighbours)
    except LaunchError as exc:
        cause = placement.diagnose() if placement.diagnose else None
        failure = LaunchError(f"{cause} ({exc})") if cause else exc
        config = {**columns["backend_config"], **placement.record}
        record.store_failure({**columns, "backend_config": config}, failure, results_dir)
        if cause:
            raise failure from exc
        raise


def _share_manifest(work: WorkloadRun, run_id: str, directory: Path,
                    outputs: list[dict]) -> dict:
    """Write the manifest of the share files the computing parties saved; its record."""
    records = [out["shares"] for out in outputs[:work.case.parties]]
    sha = write_share_manifest(work.case, work.backend, run_id, directory, records,
                               work.share_encoding(), work.share_source(run_id))
    return {"dir": str(directory), "manifest_sha256": sha}


def _store(rows: pd.DataFrame, run_id: str, results_dir: Path, work_dir: Path) -> Path:
    """Append the run's rows; its parties' logs go once they are stored."""
    try:
        path = store.append(rows, results_dir)
    except Exception as exc:  # the parties' results are still in their logs: say where
        raise store.ResultsError(
            f"run {run_id} was measured but not stored ({type(exc).__name__}: {exc}); its "
            f"parties' results are in {work_dir}") from exc
    shutil.rmtree(work_dir)
    return path
