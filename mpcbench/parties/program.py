"""What a party does in a run: set up its backend, run its workload's timed phases,
report.

It drives the backend through ``setup``, then through the phases of the case's workload
(:mod:`.workloads`: secure inference, the sharing micro-benchmark or secure training; at
a dealer, a rank after the computing parties', one phase ``deal`` instead), and reports
on standard output: progress, then one result line with its rows, its backend config and
what it learnt (the logits, with their image indices, see :mod:`mpcbench.roles`; the
losses, at the model owner of a training run; the record of its share file, if the run
saves them). :mod:`.worker` is the program that runs it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from .. import injection, roles
from ..metrics import DEAL, DEALER, RANK_METRICS
from . import get, workloads
from .context import PartyContext
from .profiler import Profiler
from .pulse import MARKER
from .workloads.base import Learnt, WorkloadParty


def _emit(kind: str, payload: str) -> None:
    sys.stdout.write(f"{MARKER} {kind} {payload}\n")
    sys.stdout.flush()


def run_party(ctx: PartyContext) -> None:
    """Run one party of a case and report its progress and rows on standard output."""
    workload = workloads.of(ctx.case)
    steps = workload.steps(ctx.case)
    done = 0

    def progress(units: int) -> None:  # also the step the party's heartbeats carry
        nonlocal done
        done += units
        _emit("progress", f"{done} {steps}")

    _emit("result", json.dumps(_measure(ctx, workload, progress), default=str))
    injection.at("result", ctx.rank)


def _measure(ctx: PartyContext, workload: type[WorkloadParty],
             progress: Callable[[int], None]) -> dict:
    """Set up the backend, run the workload's phases (or deal); the party's rows, config
    and what it learnt (``logit_images``: the indices of the images whose ``logits`` it
    learnt)."""
    case = ctx.case
    backend = get(case.framework)()
    prof = Profiler(backend.comm_counters, backend.barrier)
    with prof.phase("setup", sync=False):
        backend.setup(ctx)
    injection.at("setup", ctx.rank)
    if ctx.is_dealer:
        with prof.phase(DEAL, sync=False):  # until the computing parties are done
            backend.deal()
        learnt = Learnt()
    else:
        learnt = workload.run(ctx, backend, prof, progress)
    prof.close()
    comm_method = backend.comm_counters().method
    rows = [
        {"repeat": rep, "is_warmup": rep < case.warmup and phase not in ("setup", DEAL),
         "phase": phase, "metric": metric,
         "value": float(getattr(sample, metric)), "unit": unit}
        for (rep, phase), sample in prof.samples.items()
        for metric, unit in RANK_METRICS.items()
    ]
    rows.append({"repeat": 0, "is_warmup": False, "phase": "process", "metric": "peak_rss_bytes",
                 "value": float(prof.max_rss_bytes()), "unit": "B"})
    rows += [{"repeat": 0, "is_warmup": False, "phase": DEAL if ctx.is_dealer else "total",
              "metric": m, "value": float(v), "unit": u}
             for m, (v, u) in backend.extra_metrics().items()]
    info = backend.run_info()
    backend.teardown()
    role = DEALER if ctx.is_dealer else roles.role_of(case.roles, ctx.rank)
    rows = [{**row, "rank": ctx.rank, "role": role, "comm_method": comm_method} for row in rows]
    logits = learnt.logits
    images = sorted(logits)
    return {"rows": rows, "config": info, "logit_images": images,
            "logits": [logits[i].tolist() for i in images] if images else None,
            "losses": learnt.losses, "shares": learnt.shares}
