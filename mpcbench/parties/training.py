"""The party side of secure training: SGD steps on secret-shared batches, then the trained
model scored on test images, every step a timed phase.

Phases (see :mod:`.profiler`): ``share.model`` (the initial weights, from the model
owner), per step ``s`` the phase ``train_step`` of repeat ``s`` (sharing the batch and
its one-hot labels from the data owner, forward, cross-entropy, backward, update, and
opening the loss to the model owner), with the nested spans ``train_step.share`` and
``train_step.loss``; then ``test`` (sharing the test images, evaluation, opening the
logits to the model owner only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import data, models, roles
from ..metrics import TRAIN_STEP
from ..models import train as plain
from .base import Backend
from .context import PartyContext
from .profiler import Profiler

#: classes of the vendored datasets (width of the one-hot labels)
CLASSES = 10
#: where a party's shares of the trained model are saved: ``save_shares(ctx, backend,
#: model)`` after the last step, with the shared model :meth:`Backend.share_trainable`
#: returned (CrypTen: :class:`.crypten.training.Trainable`, whose ``module.parameters()``
#: are encrypted tensors holding this party's ring shares with 16 fractional bits); the
#: record of the file it wrote (:func:`.shares.save`)
SaveShares = Callable[[PartyContext, Backend, Any], dict[str, Any]]


@dataclass(frozen=True)
class TrainingOutput:
    """What the model owner learns: the loss of every step and the test logits; and the
    record of this party's share file of the trained model (if it saved one)."""

    losses: list[float] | None
    logits: np.ndarray | None
    shares: dict[str, Any] | None = None


def progress_total(ctx: PartyContext) -> int:
    """Units of progress a training party reports: its steps and its test batches."""
    case = ctx.case
    return case.training.steps + len(roles.batches(case.images, case.batch))


def train(ctx: PartyContext, backend: Backend, prof: Profiler,
          progress: Callable[[int], None], save_shares: SaveShares | None = None
          ) -> TrainingOutput:
    """Train the case's model for its steps and score it; ``save_shares`` (if given) gets
    the trained shared model before scoring."""
    case, spec = ctx.case, ctx.case.training
    # Data and the initial model are loaded outside the timed phases; only owners see them.
    owner, receiver = case.roles.data_owners[0], case.roles.model_owner
    owns_data = ctx.rank == owner
    x_all, y_all = (data.load(case.dataset, "train", limit=spec.train_images) if owns_data
                    else (None, None))
    initial = plain.initial_model(case.model, spec.seed)
    if ctx.rank != receiver:
        initial = plain.blank(initial)
    with prof.phase("share.model"):
        model = backend.share_trainable(initial, spec.lr)
    losses = []
    for step, idx in enumerate(plain.sgd_plan(spec.train_images, case.batch, spec.steps,
                                              spec.seed)):
        shape = (len(idx), *models.INPUT_SHAPE)
        with prof.phase(TRAIN_STEP, step):
            with prof.phase("train_step.share", step, sync=False):
                x = backend.share_input(None if x_all is None else x_all[idx], shape, owner)
                labels = (None if y_all is None else
                          torch.nn.functional.one_hot(y_all[idx], CLASSES).float())
                y = backend.share_input(labels, (len(idx), CLASSES), owner)
            loss = backend.train_step(model, x, y)
            with prof.phase("train_step.loss", step, sync=False):
                opened = backend.reveal(loss, receiver)
        if opened is not None:
            losses.append(float(opened))
        progress(1)
    saved = None if save_shares is None else save_shares(ctx, backend, model)
    return TrainingOutput(losses if ctx.rank == receiver else None,
                          _score(ctx, backend, prof, model, progress, owner, receiver),
                          saved)


def _score(ctx: PartyContext, backend: Backend, prof: Profiler, model: Any,
           progress: Callable[[int], None], owner: int, receiver: int) -> np.ndarray | None:
    """Test logits of the trained shared model on the images of data owner ``owner``,
    opened to ``receiver`` (the model owner) only."""
    case = ctx.case
    x_all = (data.load(case.dataset, "test", limit=case.images)[0]
             if ctx.rank == owner else None)
    logits = []
    with prof.phase("test"):
        for lo, hi in roles.batches(case.images, case.batch):
            x = backend.share_input(None if x_all is None else x_all[lo:hi],
                                    (hi - lo, *models.INPUT_SHAPE), owner)
            out = backend.reveal(backend.predict(model, x), receiver)
            if out is not None:
                logits.append(out.detach().double().cpu().numpy())
            progress(1)
    return np.concatenate(logits) if logits else None
