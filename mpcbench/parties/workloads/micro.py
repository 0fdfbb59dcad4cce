"""The party's side of the sharing micro-benchmark (:class:`mpcbench.case.Micro`): per
repeat, ``load`` (the data owners load ``images`` training images as the case's dtype)
and ``share`` (they share them), inside ``total``; nothing is revealed."""

from __future__ import annotations

import numpy as np

from ... import data, models, roles
from ...case import Micro
from ..base import Backend
from ..context import PartyContext
from ..profiler import Profiler
from .base import Learnt, Progress, WorkloadParty


class MicroParty(WorkloadParty):
    """Load and share ``images`` training images as ``dtype``."""

    kind = Micro.kind

    @classmethod
    def run(cls, ctx: PartyContext, backend: Backend, prof: Profiler,
            progress: Progress) -> Learnt:
        case = ctx.case
        dtype = np.dtype(case.dtype)
        for rep in range(case.warmup + case.repeats):
            with prof.phase("total", rep):
                with prof.phase("load", rep):
                    x = (data.arrays(case.dataset, "train", limit=case.images)[0].astype(dtype)
                         if ctx.rank in case.roles.data_owners else None)
                with prof.phase("share", rep):
                    backend.share_batch(x, roles.split(0, case.images, case.roles.data_owners),
                                        ctx.rank, models.INPUT_SHAPE)
            progress(len(roles.batches(case.images, case.batch)))
        return Learnt()
