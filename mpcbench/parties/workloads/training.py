"""The party's side of secure training (:class:`mpcbench.case.Training`): SGD steps on
secret-shared batches, then the trained model scored on test images, every step a timed
phase.

Phases (see :mod:`mpcbench.parties.profiler`): ``share.model`` (the initial weights, from the model
owner), per step ``s`` the phase ``train_step`` of repeat ``s`` (sharing the batch and
its one-hot labels from the data owner, forward, cross-entropy, backward, update, and
opening the loss to the model owner), with the nested spans ``train_step.share`` and
``train_step.loss``; then ``test`` (sharing the test images, evaluation, opening the
logits to the model owner only). With ``save_shares``, each party saves its shares of
the trained model after the last step (``share_trainable`` returns it: for CrypTen a
:class:`mpcbench.parties.crypten.training.Trainable`, whose ``module.parameters()`` are
encrypted tensors holding this party's ring shares with 16 fractional bits). The backend
has the :class:`~mpcbench.parties.capabilities.SecureTraining` capability (the
launcher's workload checked it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ... import data, models, roles
from ...case import Case, Training
from ...metrics import TRAIN_STEP
from ...models import train as plain
from ..base import Backend
from ..context import PartyContext
from ..profiler import Profiler
from .base import Learnt, Progress, WorkloadParty, save_shares

#: classes of the vendored datasets (width of the one-hot labels)
CLASSES = 10


class TrainingParty(WorkloadParty):
    """Train the case's model for its steps and score it on the test images."""

    kind = Training.kind

    @classmethod
    def steps(cls, case: Case) -> int:
        """Units of progress a training party reports: its steps and its test batches."""
        return case.workload.steps + len(roles.batches(case.images, case.batch))

    @classmethod
    def run(cls, ctx: PartyContext, backend: Backend, prof: Profiler,
            progress: Progress) -> Learnt:
        """The loss of every step and the test logits (at the model owner, who learns
        them), and the record of this party's share file of the trained model (if it
        saved one, before scoring)."""
        case, spec = ctx.case, ctx.case.workload
        # Data and the initial model are loaded outside the timed phases; only owners
        # see them.
        owner, receiver = case.roles.data_owners[0], case.roles.model_owner
        owns_data = ctx.rank == owner
        x_all, y_all = (data.load(case.dataset, "train", limit=spec.train_images)
                        if owns_data else (None, None))
        initial = plain.initial_model(case.model, spec.seed)
        if ctx.rank != receiver:
            initial = plain.blank(initial)
        with prof.phase("share.model"):
            model = backend.share_trainable(initial, spec.lr)
        losses = []
        for step, idx in enumerate(plain.sgd_plan(spec.train_images, case.batch, spec.steps,
                                                  spec.seed)):
            shape = (len(idx), *models.input_shape(case.model))
            with prof.phase(TRAIN_STEP, step):
                with prof.phase("train_step.share", step, sync=False):
                    x = backend.share_input(None if x_all is None else x_all[idx].numpy(),
                                            shape, owner)
                    labels = (None if y_all is None else torch.nn.functional.one_hot(
                        y_all[idx], CLASSES).float().numpy())
                    y = backend.share_input(labels, (len(idx), CLASSES), owner)
                loss = backend.train_step(model, x, y)
                with prof.phase("train_step.loss", step, sync=False):
                    opened = backend.reveal(loss, receiver)
            if opened is not None:
                losses.append(float(opened.item()))
            progress(1)
        saved = save_shares(ctx, backend, model) if ctx.save_shares else None
        logits = _score(ctx, backend, prof, model, progress, owner, receiver)
        return Learnt({} if logits is None else dict(enumerate(logits)),
                      losses if ctx.rank == receiver else None, saved)


def _score(ctx: PartyContext, backend: Backend, prof: Profiler, model: Any,
           progress: Progress, owner: int, receiver: int) -> np.ndarray | None:
    """Test logits of the trained shared model on the images of data owner ``owner``,
    opened to ``receiver`` (the model owner) only."""
    case = ctx.case
    x_all = (data.arrays(case.dataset, "test", limit=case.images)[0]
             if ctx.rank == owner else None)
    logits = []
    with prof.phase("test"):
        for lo, hi in roles.batches(case.images, case.batch):
            x = backend.share_input(None if x_all is None else x_all[lo:hi],
                                    (hi - lo, *models.input_shape(case.model)), owner)
            out = backend.reveal(backend.predict(model, x), receiver)
            if out is not None:
                logits.append(np.asarray(out, dtype=np.float64))
            progress(1)
    return np.concatenate(logits) if logits else None
