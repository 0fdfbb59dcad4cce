"""Run one case end to end: check it, launch its parties, score it, store its rows."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import data, models, parties, roles
from ..case import MICRO, NO_NETWORK, Case
from ..errors import RunFailed
from ..models import layers as L
from ..models import ranges
from ..parties import shares
from ..parties.base import Backend, Unsupported
from ..parties.context import PartyContext
from ..results import identity as ident
from ..results import store
from ..results.provenance import code_changes, commit_info, provenance, versions
from ..results.schema import RUN_METRICS, SECURITY_COLUMNS
from . import leftovers, logdirs, training
from .contention import Neighbours
from .local import LaunchError, launch
from .placement import Placement, Placer, emulated
from .placement import local as placement_local
from .share_sets import check_save_shares, check_shares, write_share_manifest

DEFAULT_TIMEOUT_S = 600.0
#: fields of a :class:`Case` that are part of a run's identity (options enter resolved)
IDENTITY_CASE = ("framework", "model", "dataset", "parties", "batch", "images", "dtype",
                 "network")


@dataclass(frozen=True)
class RunResult:
    """A stored run: its id, the file its rows went to, and the rows."""

    run_id: str
    path: Path
    rows: pd.DataFrame


def new_run_id() -> str:
    """A new run's id: its UTC start time and a random suffix (``20261207T021616-4a99f6f4``)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def check(case: Case) -> type[Backend]:
    """Validate ``case`` before anything launches; returns its backend class."""
    backend = parties.get(case.framework)
    reason = backend.available()
    if reason:
        raise Unsupported(f"framework {case.framework} is not available here: {reason}")
    backend.validate(case)
    if case.network != NO_NETWORK:
        from .network import get_profile

        get_profile(case.network).check(case.parties + backend.dealers(case))
    if case.dtype not in ("float32", "float64"):
        raise Unsupported(f"dtype must be float32 or float64, got {case.dtype!r}")
    if case.training is not None:
        training.check(case)
        return backend
    if case.shares:
        check_shares(case, backend)
    if case.model == MICRO:
        data.check_available(case.dataset, "train", case.images)
        return backend
    data.check_available(case.dataset, "test", case.images)  # also verifies checksums
    if backend.uses_description:
        models.module(case.model)
        if not case.shares:
            models.weights_info(case.model, case.dataset)
    if case.images < 1 or case.batch < 1 or case.repeats < 1 or case.warmup < 0:
        raise Unsupported("images, batch and repeats must be >= 1 and warmup >= 0")
    return backend


def check_range(case: Case, backend: type[Backend]) -> dict | None:
    """Range check before secret sharing: a plaintext pass over the run's images.

    :class:`~mpcbench.models.ranges.RangeError` (exit 2) naming the layer, the value and
    the limit if a value would leave the backend's representable range
    (:meth:`Backend.value_range`); else the tightest value and its margin in bits, stored
    with the run (``None`` for a backend without a limit).
    """
    if (case.model == MICRO or not backend.uses_description or case.training is not None
            or case.shares):
        return None  # (from shares: no plaintext weights to check)
    limit = backend.value_range(case)
    if limit is None:
        return None
    x, _ = data.load(case.dataset, "test", limit=case.images)
    layers = L.describe(models.load_trained(case.model, case.dataset))
    return ranges.check(layers, x, limit, case.framework)


def _layer_rewrites(case: Case, backend: type[Backend]) -> list[str]:
    """What the layer description changes in the model (see :func:`layers.describe`)."""
    if case.model == MICRO or not backend.uses_description or case.training is not None:
        return []
    return L.rewrites(models.build(case.model))


def _threads(n_parties: int) -> int:
    return max(1, (os.cpu_count() or 1) // n_parties)


def code_identity(commit: str | None = None) -> dict[str, object]:
    """The ``mpcbench`` component of an identity: version and git commit of this code, and
    a hash of its uncommitted changes (``changes``, absent for a clean tree)."""
    out = {"version": versions()["mpcbench_version"],
           "commit": commit or commit_info()["git_commit"]}
    changes = code_changes()
    return {**out, "changes": changes} if changes else out


def identity(case: Case, code: dict[str, object] | None = None) -> dict[str, object]:
    """Everything that makes a run of ``case`` the measurement it is (see
    :mod:`mpcbench.results.identity`): case, resolved configuration, weights, code and
    framework versions (and the roles, when not party 0's). ``code`` is
    :func:`code_identity` if the caller already has it."""
    backend = parties.get(case.framework)
    spec = asdict(case)
    held = {} if case.roles.is_default else {"roles": case.roles.record()}
    fields = IDENTITY_CASE + (("training",) if case.training is not None else ())
    return {
        "case": {**{k: spec[k] for k in fields}, **held},
        "config": backend.resolve(case),
        # training starts from the initial weights of its seed, not from a weights file
        "weights": backend.weights(case) if case.training is None else {},
        "mpcbench": code or code_identity(),
        "frameworks": backend.versions(),
    }


def fingerprint(case: Case, code: dict[str, object] | None = None) -> str:
    """Hash of a run's :func:`identity`: two runs with the same fingerprint measure the same
    thing (repeats and warm-up are not part of it)."""
    return ident.fingerprint(identity(case, code))


def oversubscribed(ctx: PartyContext, placement: Placement | None = None) -> bool:
    """Whether the parties on one machine run more threads than this machine has cores
    (they are then time-sliced, and their times include waiting for a core). Emulated
    hosts all share this machine. Dealers count as parties here."""
    if placement is not None and placement.on_this_machine:
        return max(ctx.parties, len(ctx.addresses)) * ctx.threads > (os.cpu_count() or 1)
    per_host: dict[str, int] = {}
    for addr in ctx.addresses:
        host = addr.rsplit(":", 1)[0]
        per_host[host] = per_host.get(host, 0) + 1
    return max(per_host.values(), default=0) * ctx.threads > (os.cpu_count() or 1)


def _run_metrics(case: Case, logits: np.ndarray | None, backend: type[Backend],
                 total_s: float) -> list[dict]:
    """Run-level rows (rank -1): accuracy and agreement against plaintext, throughput."""
    values = {"img_per_s": case.images / total_s, "s_per_img": total_s / case.images}
    if logits is not None:
        x, labels = data.load(case.dataset, "test", limit=case.images)
        pred = torch.from_numpy(logits).argmax(1)
        values["accuracy"] = float((pred == labels).double().mean())
        if backend.uses_description and not case.shares:  # from shares: no plaintext
            plain = L.evaluate(L.describe(models.load_trained(case.model, case.dataset)), x)
            values["plain_accuracy"] = float((plain.argmax(1) == labels).double().mean())
            values["agreement"] = float((plain.argmax(1) == pred).double().mean())
            values["max_abs_err"] = float((plain - torch.from_numpy(logits)).abs().max())
    return [{"rank": -1, "repeat": 0, "is_warmup": False, "phase": "total", "metric": m,
             "value": v, "unit": RUN_METRICS[m]} for m, v in values.items()]


def _case_columns(case: Case, ctx: PartyContext, backend: type[Backend], run_id: str,
                  placement: Placement | None = None, config: dict | None = None) -> dict:
    """Columns shared by every row of the run; security extras (and ``config``: range
    check, layer rewrites) go to ``backend_config``."""
    security = backend.security(case)
    extras = {k: v for k, v in security.items() if k not in SECURITY_COLUMNS}
    prov = provenance()
    run_identity = identity(case, code_identity(prov["git_commit"]))
    sha = run_identity["weights"].get(f"{case.model}-{case.dataset}")
    share_set = run_identity["weights"].get(f"{case.model}-{case.dataset}-shares")
    return {
        "run_id": run_id, "timestamp": datetime.now(UTC), "case_id": case.case_id,
        "framework": case.framework, "kind": backend.kind.value,
        "framework_versions": json.dumps(backend.versions(), sort_keys=True),
        "model": case.model, "dataset": case.dataset,
        "parties": case.parties, "network": case.network, "batch": case.batch,
        "images": case.images,
        "data_owners": roles.format_ranks(case.roles.data_owners),
        "model_owner": case.roles.model_owner, "output": case.roles.output,
        "threads_per_party": ctx.threads,
        "weights_sha256": sha, "model_shares": share_set,
        "case_fingerprint": ident.fingerprint(run_identity),
        "identity": ident.dumps(run_identity),
        "config": ident.config_text(run_identity["config"]),
        "oversubscribed": oversubscribed(ctx, placement),
        **{k: v for k, v in security.items() if k in SECURITY_COLUMNS}, **prov,
        "backend_config": json.dumps({"security": extras, **(config or {})}, default=str),
    }


def assemble_logits(outputs: list[dict], images: int) -> np.ndarray | None:
    """The logits of all ``images`` from what each party's result line says it learnt
    (``None`` if some image's logits reached no party, as in the micro-benchmark)."""
    rows: dict[int, list[float]] = {}
    for out in outputs:
        rows.update(zip(out.get("logit_images") or (), out.get("logits") or (), strict=True))
    if sorted(rows) != list(range(images)):
        return None
    return np.asarray([rows[i] for i in range(images)], dtype=np.float64)


def failure_row(columns: dict, status: str, error: str) -> pd.DataFrame:
    """The one row of a run that did not complete: ``columns``, its status and reason."""
    return pd.DataFrame([{**columns, "rank": -1, "repeat": 0, "phase": "total",
                          "metric": "wall_s", "value": np.nan, "unit": "s",
                          "status": status, "error": error}])


def _store_failure(columns: dict, exc: RunFailed, results_dir: Path) -> None:
    """One row for a run that failed: its status and the one-line reason."""
    store.append(failure_row(columns, exc.status, str(exc)), results_dir)


def party_context(case: Case, placement: Placement, threads: int | None = None,
                  run_id: str = "", save_shares: Path | None = None) -> PartyContext:
    """What every party of ``case`` placed by ``placement`` is told (rank unset)."""
    return PartyContext(rank=-1, parties=case.parties, case=case,
                        threads=threads or _threads(case.parties),
                        addresses=placement.addresses, run_id=run_id,
                        save_shares=None if save_shares is None else str(save_shares))


def run_case(
    case: Case,
    results_dir: Path,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    port: int | None = None,
    threads: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    place: Placer | None = None,
    save_shares: Path | None = None,
) -> RunResult:
    """Run ``case`` with one process per party and append its rows.

    ``place(parties)`` says where the parties run and how they start, for the time of
    the run (default: this machine, on free loopback ports or on ``port`` and up; see
    :mod:`.placement`) and the backend's dealers (ranks ``parties ..``, rows with
    ``role = "dealer"``); it is entered after the case is checked. With ``save_shares``,
    each party writes its shares of the shared model there and the launcher the
    manifest (:mod:`mpcbench.parties.shares`). A failed or timed-out
    run is stored too (one row with its status and error) and then re-raised, so a
    sweep's table shows what broke. What runs whose launcher died left behind is removed
    first (:mod:`.leftovers`).
    """
    backend = check(case)
    if save_shares is not None:
        check_save_shares(case, backend, save_shares)
    value_range = check_range(case, backend)  # before any party starts
    results_dir = Path(results_dir)
    leftovers.sweep(results_dir)
    run_id = new_run_id()
    with ExitStack() as stack:
        try:
            placer = place or (emulated(case.network) if case.network != NO_NETWORK
                               else placement_local(port))
            placement = stack.enter_context(placer(case.parties + backend.dealers(case)))
        except RunFailed as exc:
            ctx = party_context(case, Placement((), (), ()), threads)
            _store_failure(_case_columns(case, ctx, backend, run_id), exc, results_dir)
            raise
        if case.shares and not placement.spec_on_stdin:  # parties on this file system
            check_shares(case, backend, files=True)
        if save_shares is not None:
            stack.enter_context(shares.discarded_on_failure(save_shares, run_id))
        ctx = party_context(case, placement, threads, run_id, save_shares)
        neighbours = Neighbours(run_id) if placement.on_this_machine else None
        columns = _case_columns(case, ctx, backend, run_id, placement, {
            "range": value_range, "layer_rewrites": _layer_rewrites(case, backend)})
        work_dir = logdirs.make(results_dir, run_id)
        try:
            outputs = launch(ctx, work_dir, timeout_s, on_progress, placement, neighbours)
        except LaunchError as exc:
            cause = placement.diagnose() if placement.diagnose else None
            failure = LaunchError(f"{cause} ({exc})") if cause else exc
            _store_failure({**columns, "backend_config": json.dumps(
                {**json.loads(columns["backend_config"]), **placement.record})}, failure,
                results_dir)
            if cause:
                raise failure from exc
            raise
    per_rank = pd.DataFrame([{**row, "host": placement.hosts[row["rank"]]}
                             for out in outputs for row in out["rows"]])
    logits = assemble_logits(outputs, case.images)
    if case.training is not None:
        run_rows = training.run_metrics(case, per_rank,
                                        outputs[case.roles.model_owner]["losses"], logits,
                                        ctx.threads)
    else:
        totals = per_rank[(per_rank.phase == "total") & (per_rank.metric == "wall_s")
                          & ~per_rank.is_warmup]
        total_s = float(totals.groupby("repeat")["value"].max().median())
        run_rows = _run_metrics(case, logits, backend, total_s)
    rows = pd.concat([per_rank, pd.DataFrame(run_rows)], ignore_index=True)
    config = {**json.loads(columns["backend_config"]), **outputs[0]["config"],
              **placement.record, "liveness": [out["liveness"] for out in outputs],
              **({"contention": neighbours.record()} if neighbours else {})}
    if save_shares is not None:
        config["saved_shares"] = {"dir": str(save_shares), "manifest_sha256": (
            write_share_manifest(case, backend, run_id, save_shares,
                                 [out["shares"] for out in outputs[:case.parties]]))}
    notes = "; ".join(out["note"] for out in outputs if out["note"])
    rows = rows.assign(**{**columns, "backend_config": json.dumps(config, default=str)},
                       status="ok", note=notes or None,
                       contended=neighbours.contended if neighbours else None)
    cached = rows["metric"].isin(sorted(backend.cached_metrics(case)))
    # a row may say what it is itself (a training run's extrapolated time per epoch)
    own = rows["source"].fillna("measured") if "source" in rows else "measured"
    rows["source"] = np.where(cached, "cached", own)
    try:
        path = store.append(rows, results_dir)
    except Exception as exc:  # the parties' results are still in their logs: say where
        raise store.ResultsError(
            f"run {run_id} was measured but not stored ({type(exc).__name__}: {exc}); its "
            f"parties' results are in {work_dir}") from exc
    shutil.rmtree(work_dir)
    return RunResult(run_id, path, store.read_file(path))
