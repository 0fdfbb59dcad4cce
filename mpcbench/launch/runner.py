"""Run one case end to end: check it, launch its parties, score it, store its rows."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import data, models, parties
from ..case import MICRO, Case
from ..models import layers as L
from ..models import ranges
from ..parties.base import Backend, PartyContext, Unsupported
from ..results import store
from ..results.provenance import provenance
from ..results.schema import RUN_METRICS, SECURITY_COLUMNS
from .local import LaunchError, launch
from .ports import check_ports, free_ports

DEFAULT_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class RunResult:
    """A stored run: its id, the file its rows went to, and the rows."""

    run_id: str
    path: Path
    rows: pd.DataFrame


def check(case: Case) -> type[Backend]:
    """Validate ``case`` before anything launches; returns its backend class."""
    backend = parties.get(case.framework)
    reason = backend.available()
    if reason:
        raise Unsupported(f"framework {case.framework} is not available here: {reason}")
    backend.validate(case)
    if case.dtype not in ("float32", "float64"):
        raise Unsupported(f"dtype must be float32 or float64, got {case.dtype!r}")
    if case.model == MICRO:
        data.check_available(case.dataset, "train", case.images)
        return backend
    data.check_available(case.dataset, "test", case.images)  # also verifies checksums
    if backend.uses_description:
        models.module(case.model)
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
    if case.model == MICRO or not backend.uses_description:
        return None
    limit = backend.value_range(case)
    if limit is None:
        return None
    x, _ = data.load(case.dataset, "test", limit=case.images)
    layers = L.describe(models.load_trained(case.model, case.dataset))
    return ranges.check(layers, x, limit, case.framework)


def _layer_rewrites(case: Case, backend: type[Backend]) -> list[str]:
    """What the layer description changes in the model (see :func:`layers.describe`)."""
    if case.model == MICRO or not backend.uses_description:
        return []
    return L.rewrites(models.load_trained(case.model, case.dataset))


def _threads(n_parties: int) -> int:
    return max(1, (os.cpu_count() or 1) // n_parties)


def _weights_sha(case: Case) -> str | None:
    if case.model == MICRO or not parties.get(case.framework).uses_description:
        return None
    return models.weights_info(case.model, case.dataset).sha256


def fingerprint(case: Case, weights_sha: str | None = None) -> str:
    """Hash of what makes two runs comparable: case parameters (not repeats) and weights
    (``weights_sha`` if the caller already has it)."""
    blob = json.dumps({**asdict(case), "repeats": None, "warmup": None,
                       "weights": weights_sha or _weights_sha(case)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _run_metrics(case: Case, logits: np.ndarray | None, backend: type[Backend],
                 total_s: float) -> list[dict]:
    """Run-level rows (rank -1): accuracy and agreement against plaintext, throughput."""
    values = {"img_per_s": case.images / total_s, "s_per_img": total_s / case.images}
    if logits is not None:
        x, labels = data.load(case.dataset, "test", limit=case.images)
        pred = torch.from_numpy(logits).argmax(1)
        values["accuracy"] = float((pred == labels).double().mean())
        if backend.uses_description:
            plain = L.evaluate(L.describe(models.load_trained(case.model, case.dataset)), x)
            values["plain_accuracy"] = float((plain.argmax(1) == labels).double().mean())
            values["agreement"] = float((plain.argmax(1) == pred).double().mean())
            values["max_abs_err"] = float((plain - torch.from_numpy(logits)).abs().max())
    return [{"rank": -1, "repeat": 0, "is_warmup": False, "phase": "total", "metric": m,
             "value": v, "unit": RUN_METRICS[m]} for m, v in values.items()]


def _case_columns(case: Case, ctx: PartyContext, backend: type[Backend], run_id: str,
                  config: dict | None = None) -> dict:
    """Columns shared by every row of the run; security extras (and ``config``: range
    check, layer rewrites) go to ``backend_config``."""
    security = backend.security(case)
    extras = {k: v for k, v in security.items() if k not in SECURITY_COLUMNS}
    sha = _weights_sha(case)
    return {
        "run_id": run_id, "timestamp": datetime.now(UTC), "case_id": case.case_id,
        "framework": case.framework, "kind": backend.kind.value,
        "framework_versions": json.dumps(backend.versions(), sort_keys=True),
        "model": case.model, "dataset": case.dataset,
        "parties": case.parties, "batch": case.batch, "images": case.images,
        "data_owner": ctx.data_owner, "model_owner": ctx.model_owner,
        "output_party": ctx.output_party, "threads_per_party": ctx.threads,
        "weights_sha256": sha, "case_fingerprint": fingerprint(case, sha),
        **{k: v for k, v in security.items() if k in SECURITY_COLUMNS}, **provenance(),
        "backend_config": json.dumps({"security": extras, **(config or {})}, default=str),
    }


def run_case(
    case: Case,
    results_dir: Path,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    port: int | None = None,
    threads: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    hosts: list[str] | None = None,
    remote: str | None = None,
) -> RunResult:
    """Run ``case`` with one process per party and append its rows.

    Parties run on this host, or on ``hosts`` (party ``r`` on ``hosts[r % len(hosts)]``)
    started through the ``remote`` shell template (see :func:`launch`). A failed or
    timed-out run is stored too (one row with its status and error) and then re-raised,
    so a sweep's table shows what broke.
    """
    backend = check(case)
    value_range = check_range(case, backend)  # before any party starts
    if hosts and not remote:
        raise Unsupported("--hosts needs --remote, the command that starts a party there")
    ports = check_ports(port, case.parties) if port else free_ports(case.parties)
    hosts = hosts or ["127.0.0.1"]
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    ctx = PartyContext(
        rank=-1, parties=case.parties, case=case, threads=threads or _threads(case.parties),
        addresses=tuple(f"{hosts[r % len(hosts)]}:{p}" for r, p in enumerate(ports)),
    )
    results_dir = Path(results_dir)
    work_dir = results_dir / "logs" / run_id
    columns = _case_columns(case, ctx, backend, run_id, {
        "range": value_range, "layer_rewrites": _layer_rewrites(case, backend)})
    try:
        outputs = launch(ctx, work_dir, timeout_s, on_progress, remote)
    except LaunchError as exc:
        failed = pd.DataFrame([{**columns, "rank": -1, "repeat": 0, "phase": "total",
                                "metric": "wall_s", "value": np.nan, "unit": "s",
                                "status": exc.status, "error": str(exc)}])
        store.append(failed, results_dir)
        raise
    per_rank = pd.DataFrame([row for out in outputs for row in out["rows"]])
    totals = per_rank[(per_rank.phase == "total") & (per_rank.metric == "wall_s")
                      & ~per_rank.is_warmup]
    total_s = float(totals.groupby("repeat")["value"].max().median())
    revealed = outputs[ctx.output_party]["logits"]
    logits = None if revealed is None else np.asarray(revealed, dtype=np.float64)
    rows = pd.concat([per_rank, pd.DataFrame(_run_metrics(case, logits, backend, total_s))],
                     ignore_index=True)
    config = {**json.loads(columns["backend_config"]), **outputs[0]["config"]}
    rows = rows.assign(**{**columns, "backend_config": json.dumps(config, default=str)},
                       status="ok")
    path = store.append(rows, results_dir)
    shutil.rmtree(work_dir)
    return RunResult(run_id, path, store.read_file(path))
