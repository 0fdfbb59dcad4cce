"""What a party does in a run: set up its backend, run the case's timed phases, report.

It loads data and model outside the timed phases, drives the backend through
``setup``, then per repeat ``share`` (model, then each input batch), ``infer`` and
``reveal``, all inside ``total`` (or, for the sharing micro-benchmark, ``load`` and
``share``; at a dealer, a rank after the computing parties', one phase ``deal``; for
secure training, the steps of :mod:`.training`), and reports on standard output: progress,
then one result line with its rows, its backend config and the logits it learnt (with
their image indices; see :mod:`mpcbench.roles`; and the losses, at the model owner of a
training run). :mod:`.worker` is the program that runs it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import numpy as np
import torch

from .. import data, injection, models, roles
from ..case import MICRO, Case
from ..metrics import DEAL, DEALER, RANK_METRICS
from ..models import layers as L
from . import get, shares, training
from .base import Backend
from .context import PartyContext
from .profiler import Profiler
from .pulse import MARKER


def _emit(kind: str, payload: str) -> None:
    sys.stdout.write(f"{MARKER} {kind} {payload}\n")
    sys.stdout.flush()


def _batches(case: Case) -> list[tuple[int, int]]:
    return roles.batches(case.images, case.batch)


def _layers(ctx: PartyContext) -> list[L.Layer]:
    case = ctx.case
    if case.shares:  # the structure only: no party reads the trained weights
        return shares.structure(case.model)
    description = L.describe(models.load_trained(case.model, case.dataset))
    return description if ctx.rank == case.roles.model_owner else L.blank(description)


def _inference(ctx: PartyContext, backend: Backend, prof: Profiler,
               progress: Callable[[int], None]) -> tuple[dict[int, np.ndarray], object]:
    """Repeated secure inference of the case's images; the logits this party learnt in the
    last repeat, by image index, and the shared model."""
    case, case_roles = ctx.case, ctx.case.roles
    # Data and model loading happen outside the timed phases; a data owner keeps only its
    # own images (the others' rows are zero) and shares only its slices of each batch.
    x_all = None
    if ctx.rank in case_roles.data_owners:
        x_all = data.load(case.dataset, "test", limit=case.images)[0]
        others = torch.ones(case.images, dtype=torch.bool)
        others[roles.owned(case_roles, ctx.rank, case.images, case.batch)] = False
        x_all[others] = 0
    description = _layers(ctx) if backend.uses_description else None
    stored = (shares.load(case.shares, ctx.rank, shares.expected(
        case, type(backend).share_encoding(case))) if case.shares else None)
    logits: dict[int, np.ndarray] = {}
    for rep in range(case.warmup + case.repeats):
        logits.clear()
        with prof.phase("total", rep):
            with prof.phase("share", rep):
                model = (backend.share_model(description) if stored is None
                         else backend.import_shares(stored, description))
            for lo, hi in _batches(case):
                with prof.phase("share", rep):
                    x = backend.share_batch(x_all, roles.split(lo, hi, case_roles.data_owners),
                                            ctx.rank)
                with prof.phase("infer", rep):
                    y = backend.infer(model, x)
                if rep == 0 and lo == 0:
                    injection.at("infer", ctx.rank)
                with prof.phase("reveal", rep):
                    learnt = backend.reveal_batch(y, roles.outputs(case_roles, lo, hi), (lo, hi))
                for s, out in learnt:
                    rows = out.detach().double().cpu().numpy()
                    logits.update(zip(range(s.lo, s.hi), rows, strict=True))
                progress(1)
    return logits, model


def _micro(ctx: PartyContext, backend: Backend, prof: Profiler,
           progress: Callable[[int], None]) -> None:
    """Sharing micro-benchmark: load ``images`` training images as ``dtype``, share them."""
    case = ctx.case
    dtype = getattr(torch, case.dtype)
    for rep in range(case.warmup + case.repeats):
        with prof.phase("total", rep):
            with prof.phase("load", rep):
                x = (data.load(case.dataset, "train", limit=case.images)[0].to(dtype)
                     if ctx.rank in case.roles.data_owners else None)
            with prof.phase("share", rep):
                backend.share_batch(x, roles.split(0, case.images, case.roles.data_owners),
                                    ctx.rank)
        progress(len(_batches(case)))


def run_party(ctx: PartyContext) -> None:
    """Run one party of a case and report its progress and rows on standard output."""
    torch.set_num_threads(ctx.threads)
    steps = (training.progress_total(ctx) if ctx.case.training is not None
             else (ctx.case.warmup + ctx.case.repeats) * len(_batches(ctx.case)))
    done = 0

    def progress(batches: int) -> None:  # also the step the party's heartbeats carry
        nonlocal done
        done += batches
        _emit("progress", f"{done} {steps}")

    _emit("result", json.dumps(_measure(ctx, progress), default=str))
    injection.at("result", ctx.rank)


def _save_shares(ctx: PartyContext, backend: Backend, model: object) -> dict:
    """This party's own file of its shares of ``model`` (shared or trained); its record."""
    return shares.save(ctx.save_shares, ctx.rank, ctx.run_id, backend.export_shares(model))


def _measure(ctx: PartyContext, progress: Callable[[int], None]) -> dict:
    """Set up the backend, run the case's phases; the party's rows, config and the logits
    it learnt (``logit_images``: their image indices)."""
    case = ctx.case
    backend = get(case.framework)()
    prof = Profiler(backend.comm_counters, backend.barrier)
    with prof.phase("setup", sync=False):
        backend.setup(ctx)
    injection.at("setup", ctx.rank)
    logits: dict[int, np.ndarray] = {}
    losses = saved = None
    if ctx.is_dealer:
        with prof.phase(DEAL, sync=False):  # until the computing parties are done
            backend.deal()
    elif case.model == MICRO:
        _micro(ctx, backend, prof, progress)
    elif case.training is not None:
        trained = training.train(ctx, backend, prof, progress,
                                 _save_shares if ctx.save_shares else None)
        logits = {} if trained.logits is None else dict(enumerate(trained.logits))
        losses, saved = trained.losses, trained.shares
    else:
        logits, model = _inference(ctx, backend, prof, progress)
        if ctx.save_shares:  # this party's own file, after the timed phases
            saved = _save_shares(ctx, backend, model)
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
    images = sorted(logits)
    return {"rows": rows, "config": info, "logit_images": images,
            "logits": [logits[i].tolist() for i in images] if images else None,
            "losses": losses, "shares": saved}
