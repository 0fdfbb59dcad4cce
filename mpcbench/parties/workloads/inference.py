"""The party's side of secure inference (:class:`mpcbench.case.Inference`): per repeat,
``share`` (the model, then each input batch from its data owners), ``infer`` and
``reveal`` (each receiver's logits to it alone), all inside ``total``.

The model comes from the model owner's trained weights (the other parties hold its
structure with zero parameters) or, from a share set, from every party's own file of
shares (no party reads the trained weights). The layer graph and the images are numpy
arrays (the graph from the host's cache of exported graphs, :mod:`mpcbench.models.exported`):
a party imports no torch unless its backend computes with it.
"""

from __future__ import annotations

import numpy as np

from ... import data, injection, roles
from ...case import Inference
from ...models import exported, rewrites
from ...models import layers as L
from .. import shares
from ..base import Backend
from ..context import PartyContext
from ..profiler import Profiler
from .base import Learnt, Progress, WorkloadParty, save_shares


class InferenceParty(WorkloadParty):
    """Repeated secure inference of the case's test images."""

    kind = Inference.kind

    @classmethod
    def run(cls, ctx: PartyContext, backend: Backend, prof: Profiler,
            progress: Progress) -> Learnt:
        """The logits this party learnt in the last repeat, by image index (and the
        record of its share file, saved after the timed phases if the run saves them)."""
        case, case_roles = ctx.case, ctx.case.roles
        # Data and model loading happen outside the timed phases; a data owner keeps only
        # its own images (the others' rows are zero) and shares only its slices of each
        # batch.
        graph = _graph(ctx) if backend.uses_description else None
        x_all = None
        image = type(backend).image_shape(case) if graph is None else graph.input_shape
        if ctx.rank in case_roles.data_owners:
            x_all = data.arrays(case.dataset, "test", limit=case.images, shape=image)[0]
            others = np.ones(case.images, dtype=bool)
            others[roles.owned(case_roles, ctx.rank, case.images, case.batch)] = False
            x_all[others] = 0
        if graph is not None:
            with prof.phase("setup", sync=False):
                backend.prepare(graph)
        directory = case.workload.shares
        stored = (shares.load(directory, ctx.rank, shares.expected(
            case, type(backend).share_encoding(case), exported.structure(case.model)))
            if directory else None)
        logits: dict[int, np.ndarray] = {}
        for rep in range(case.warmup + case.repeats):
            logits.clear()
            with prof.phase("total", rep):
                with prof.phase("share", rep):
                    model = (backend.share_model(graph) if stored is None
                             else backend.import_shares(stored, graph))
                for lo, hi in roles.batches(case.images, case.batch):
                    with prof.phase("share", rep):
                        x = backend.share_batch(
                            x_all, roles.split(lo, hi, case_roles.data_owners), ctx.rank, image)
                    with prof.phase("infer", rep):
                        y = backend.infer(model, x)
                    if rep == 0 and lo == 0:
                        injection.at("infer", ctx.rank)
                    with prof.phase("reveal", rep):
                        learnt = backend.reveal_batch(y, roles.outputs(case_roles, lo, hi),
                                                      (lo, hi))
                    for s, out in learnt:
                        rows = np.asarray(out, dtype=np.float64)
                        logits.update(zip(range(s.lo, s.hi), rows, strict=True))
                    progress(1)
        saved = save_shares(ctx, backend, model) if ctx.save_shares else None
        return Learnt(dict(logits), shares=saved)


def _graph(ctx: PartyContext) -> L.Graph:
    """The layer graph this party shares (with the case's rewrite): the trained one at
    the model owner, its structure with zero parameters elsewhere (and everywhere for a
    model from shares: no party reads the trained weights)."""
    case = ctx.case
    if case.workload.shares or ctx.rank != case.roles.model_owner:
        graph = exported.structure(case.model)
    else:
        graph = exported.graph(case.model, case.dataset)
    return rewrites.rewrite(graph, rewrites.requested(case.options))[0]
