"""What a run's rows say of it besides its measurements: the run's id, its identity and
fingerprint (:mod:`mpcbench.results.identity`), the columns every row of the run
shares, the one row of a run that failed, and the rows of a measured run as stored.

A run's ``backend_config`` (security extras, the model's record, what the parties and
the placement report) stays a dict in its columns until rows are made of them.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import parties, roles
from ..case import Case
from ..errors import RunFailed
from ..parties.context import PartyContext
from ..results import identity as ident
from ..results import store
from ..results.provenance import code_changes, commit_info, provenance, versions
from ..results.schema import SECURITY_COLUMNS
from . import workloads
from .contention import Neighbours
from .placement import Placement
from .workloads import WorkloadRun

#: fields of a :class:`Case` that are part of a run's identity (options enter resolved;
#: the workload adds its own, :meth:`.workloads.base.WorkloadRun.identity_case`)
IDENTITY_CASE = ("framework", "model", "dataset", "parties", "batch", "images", "dtype",
                 "network")


def new_run_id() -> str:
    """A new run's id: its UTC start time and a random suffix (``20261207T021616-4a99f6f4``)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


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
    return _identity(workloads.of(case, parties.get(case.framework)), code)


def _identity(work: WorkloadRun, code: dict[str, object] | None) -> dict[str, object]:
    case, backend = work.case, work.backend
    spec = asdict(case)
    held = {} if case.roles.is_default else {"roles": case.roles.record()}
    return {
        "case": {**{k: spec[k] for k in IDENTITY_CASE}, **work.identity_case(), **held},
        "config": work.configuration(),
        "weights": work.weights(),
        "mpcbench": code or code_identity(),
        "frameworks": backend.versions(),
    }


def fingerprint(case: Case, code: dict[str, object] | None = None) -> str:
    """Hash of a run's :func:`identity`: two runs with the same fingerprint measure the same
    thing (repeats and warm-up are not part of it)."""
    return ident.fingerprint(identity(case, code))


def oversubscription(ctx: PartyContext, placement: Placement | None = None) -> str | None:
    """How the parties on one machine outnumber its cores with their threads, e.g. ``3
    parties on 2 cores: ...`` (they are then time-sliced, and their times include waiting
    for a core); ``None`` if they do not. Emulated hosts all share this machine; of other
    hosts, the one with the most parties is taken to have this machine's cores. Dealers
    count as parties here."""
    cores = os.cpu_count() or 1
    if placement is not None and placement.on_this_machine:
        ranks, where = list(range(max(ctx.parties, len(ctx.addresses)))), ""
    else:
        per_host: dict[str, list[int]] = {}
        for rank, address in enumerate(ctx.addresses):
            per_host.setdefault(address.rsplit(":", 1)[0], []).append(rank)
        host, ranks = max(per_host.items(), key=lambda item: len(item[1]), default=("", []))
        where = f" of host {host}"
    if len(ranks) * ctx.threads <= cores:
        return None
    dealers = sum(rank >= ctx.parties for rank in ranks)
    who = _count(len(ranks) - dealers, "party", "parties") + (
        f" and {_count(dealers, 'dealer', 'dealers')}" if dealers else "")
    threads = f" \N{MULTIPLICATION SIGN} {ctx.threads} threads" if ctx.threads > 1 else ""
    return (f"{who}{threads} on {cores} cores{where}: they are time-sliced, times include "
            "waiting for a core")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def case_columns(case: Case) -> dict[str, Any]:
    """The columns a run's rows take from its case alone."""
    return {
        "case_id": case.case_id, "framework": case.framework,
        "kind": parties.get(case.framework).kind.value, "model": case.model,
        "workload": case.workload.kind, "dataset": case.dataset, "parties": case.parties,
        "network": case.network, "batch": case.batch, "images": case.images,
        "dtype": case.dtype, "data_owners": roles.format_ranks(case.roles.data_owners),
        "model_owner": case.roles.model_owner, "output": case.roles.output,
    }


def columns(work: WorkloadRun, ctx: PartyContext, run_id: str,
            placement: Placement | None = None,
            model_record: dict[str, Any] | None = None) -> dict[str, Any]:
    """Columns shared by every row of the run of ``work``; security extras (and
    ``model_record``, :meth:`.workloads.base.WorkloadRun.model_record`) go to
    ``backend_config``, a dict."""
    case, backend = work.case, work.backend
    security = backend.security(case)
    extras = {k: v for k, v in security.items() if k not in SECURITY_COLUMNS}
    prov = provenance()
    run_identity = _identity(work, code_identity(prov["git_commit"]))
    return {
        "run_id": run_id, "timestamp": datetime.now(UTC), **case_columns(case),
        "framework_versions": json.dumps(backend.versions(), sort_keys=True),
        "threads_per_party": ctx.threads,
        "weights_sha256": run_identity["weights"].get(f"{case.model}-{case.dataset}"),
        "model_shares": run_identity["weights"].get(f"{case.model}-{case.dataset}-shares"),
        "case_fingerprint": ident.fingerprint(run_identity),
        "identity": ident.dumps(run_identity),
        "config": ident.config_text(run_identity["config"]),
        "oversubscribed": oversubscription(ctx, placement) is not None,
        **{k: v for k, v in security.items() if k in SECURITY_COLUMNS}, **prov,
        "backend_config": {"security": extras, **(model_record or {})},
    }


def _written(columns: dict[str, Any]) -> dict[str, Any]:
    """``columns`` as stored: a ``backend_config`` dict as JSON text."""
    config = columns.get("backend_config")
    if not isinstance(config, dict):
        return columns
    return {**columns, "backend_config": json.dumps(config, default=str)}


def failure_row(columns: dict[str, Any], status: str, error: str) -> pd.DataFrame:
    """The one row of a run that did not complete: ``columns``, its status and reason."""
    return pd.DataFrame([{**_written(columns), "rank": -1, "repeat": 0, "phase": "total",
                          "metric": "wall_s", "value": np.nan, "unit": "s",
                          "status": status, "error": error}])


def store_failure(columns: dict[str, Any], exc: RunFailed, results_dir: Path) -> None:
    """One row for a run that failed: its status and the one-line reason."""
    store.append(failure_row(columns, exc.status, str(exc)), results_dir)


def party_rows(outputs: list[dict], hosts: tuple[str, ...]) -> pd.DataFrame:
    """Every party's rows from its result line, with the host it ran on."""
    return pd.DataFrame([{**row, "host": hosts[row["rank"]]}
                         for out in outputs for row in out["rows"]])


def assemble_logits(outputs: list[dict], images: int) -> np.ndarray | None:
    """The logits of all ``images`` from what each party's result line says it learnt
    (``None`` if some image's logits reached no party, as in the micro-benchmark)."""
    rows: dict[int, list[float]] = {}
    for out in outputs:
        rows.update(zip(out.get("logit_images") or (), out.get("logits") or (), strict=True))
    if sorted(rows) != list(range(images)):
        return None
    return np.asarray([rows[i] for i in range(images)], dtype=np.float64)


def run_config(outputs: list[dict], placement: Placement,
               neighbours: Neighbours | None) -> dict[str, Any]:
    """What a measured run adds to its ``backend_config``: the backend's settings (rank
    0's), the placement, every party's liveness and, for parties on this machine, what
    else ran beside them."""
    return {**outputs[0]["config"], **placement.record,
            "liveness": [out["liveness"] for out in outputs],
            **({"contention": neighbours.record()} if neighbours else {})}


def measured(columns: dict[str, Any], per_rank: pd.DataFrame, run_rows: list[dict],
             config: dict[str, Any], outputs: list[dict], contended: bool | None,
             cached: frozenset[str]) -> pd.DataFrame:
    """The rows of a measured run as stored: every party's rows (``per_rank``) and the
    run-level rows, with the run's ``columns``, ``config`` added to its
    ``backend_config``, status ok, the parties' notes, whether other work shared the
    machine (``contended``; ``None``: not known), and ``source``: ``cached`` for the
    ``cached`` metrics, else what a row says itself or ``measured``."""
    rows = pd.concat([per_rank, pd.DataFrame(run_rows)], ignore_index=True)
    notes = "; ".join(out["note"] for out in outputs if out["note"])
    whole = {**columns, "backend_config": {**columns["backend_config"], **config}}
    rows = rows.assign(**_written(whole), status="ok", note=notes or None,
                       contended=contended)
    from_cache = rows["metric"].isin(sorted(cached))
    # a row may say what it is itself (a training run's extrapolated time per epoch)
    own = rows["source"].fillna("measured") if "source" in rows else "measured"
    rows["source"] = np.where(from_cache, "cached", own)
    return rows
