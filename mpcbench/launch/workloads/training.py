"""The launcher's side of secure training (:class:`mpcbench.case.Training`): its checks,
its identity, and its run-level rows next to plaintext SGD on the same batches from the
same initial weights, trained in the same run (after the parties have stopped, with the
threads one party had), so the slowdown is measured side by side.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import torch

from ... import data, models
from ...case import Case, Training
from ...metrics import RUN_METRICS, TRAIN_METRICS, TRAIN_STEP
from ...models import train as plain
from ...parties.base import Unsupported
from ...parties.capabilities import SecureTraining
from .base import WorkloadRun

#: times plaintext SGD repeats the run's steps from the initial weights: its step times
#: are a few milliseconds, so a handful of steps alone is at the mercy of one scheduler
#: hiccup; the losses and the trained model are those of the first pass
PLAIN_PASSES = 5


class TrainingRun(WorkloadRun):
    """SGD steps on secret-shared batches, then the trained model scored on test images."""

    kind = Training.kind

    @property
    def spec(self) -> Training:
        """The steps, learning rate, seed and training images of the run."""
        return self.case.workload

    @classmethod
    def batch(cls, model: str, images: int, asked: int | None = None) -> int:
        """The training batch (also of the test images): not capped at the test images."""
        return asked or plain.BATCH

    @classmethod
    def default_batch(cls, model: str, images: int) -> int:
        return plain.BATCH

    def validate(self) -> None:
        super().validate()
        case, backend = self.case, self.backend
        why = (backend.cannot_train(case) if issubclass(backend, SecureTraining)
               else backend.lacks.get(SecureTraining, "it has no secure training"))
        if why:
            raise Unsupported(f"{backend.name} cannot train {case.model}: {why}")
        if len(case.roles.data_owners) > 1:
            raise Unsupported("secure training takes its batches from one data owner, got "
                              f"{case.roles.label()}")

    def check(self) -> None:
        case, spec = self.case, self.spec
        if spec.steps < 1 or not spec.lr > 0 or spec.train_images < 1:
            raise Unsupported("steps and train images must be >= 1 and the learning rate > 0, "
                              f"got steps={spec.steps}, lr={spec.lr:g}, "
                              f"train images={spec.train_images}")
        if case.batch > spec.train_images:
            raise Unsupported(f"batch {case.batch} is larger than the {spec.train_images} "
                              "training images")
        if case.images < 1:
            raise Unsupported(f"test images must be >= 1, got {case.images}")
        data.check_shape(case.dataset, models.input_shape(case.model))
        data.check_available(case.dataset, "train", spec.train_images)  # also checksums
        data.check_available(case.dataset, "test", case.images)

    def identity_case(self) -> dict[str, Any]:
        """The steps, rate, seed and training images (training starts from the initial
        weights of its seed, not from a weights file: no ``weights``)."""
        spec = self.spec
        return {"training": {"steps": spec.steps, "lr": spec.lr, "seed": spec.seed,
                             "train_images": spec.train_images}}

    def share_source(self, run_id: str) -> dict[str, Any]:
        """Secure training run ``run_id`` after its steps (from the seed's initial
        weights, no weights file)."""
        t = self.spec
        return {"secure_training": {"run_id": run_id, "steps": t.steps, "lr": t.lr,
                                    "seed": t.seed, "batch": self.case.batch,
                                    "train_images": t.train_images,
                                    "dataset": self.case.dataset}}

    @cached_property
    def _test(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The test images the trained models are scored on, and their labels."""
        return data.load(self.case.dataset, "test", limit=self.case.images)

    def score(self, per_rank: pd.DataFrame, logits: np.ndarray | None,
              outputs: list[dict], threads: int) -> list[dict]:
        """See :func:`run_metrics` (the losses are the model owner's)."""
        losses = outputs[self.case.roles.model_owner]["losses"]
        return run_metrics(self.case, per_rank, losses, logits, threads, self._test)


def steps_per_epoch(case: Case) -> int:
    """SGD steps of one pass over the case's training images."""
    return math.ceil(case.workload.train_images / case.batch)


def _epoch(step_s: list[float], per_epoch: int) -> tuple[float, str]:
    """Time per epoch: the first epoch's steps summed if they ran, else the median step
    time (the first step carries one-time costs) times the steps of an epoch; and which
    of the two it is."""
    if len(step_s) >= per_epoch:
        return float(sum(step_s[:per_epoch])), "measured"
    return float(np.median(step_s)) * per_epoch, "extrapolated"


def _row(metric: str, value: float, repeat: int = 0, phase: str = "total",
         source: str = "measured") -> dict:
    unit = TRAIN_METRICS.get(metric) or RUN_METRICS[metric]
    return {"rank": -1, "repeat": repeat, "is_warmup": False, "phase": phase,
            "metric": metric, "value": float(value), "unit": unit, "source": source}


def reference(case: Case, threads: int, test_images: torch.Tensor
              ) -> tuple[plain.SgdSteps, list[float], torch.Tensor]:
    """Plaintext SGD of the case's steps on its batches from its initial weights (with
    ``threads`` torch threads): the first pass (losses, trained model), the step times of
    all :data:`PLAIN_PASSES` passes, and the trained model's logits of ``test_images``."""
    spec = case.workload
    x, y = data.load(case.dataset, "train", limit=spec.train_images)
    plan = plain.sgd_plan(spec.train_images, case.batch, spec.steps, spec.seed)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        passes = [plain.sgd_steps(plain.initial_model(case.model, spec.seed), x, y, plan,
                                  spec.lr) for _ in range(PLAIN_PASSES)]
        steps = passes[0]
        steps.model.eval()
        with torch.no_grad():
            logits = steps.model(test_images)
    finally:
        torch.set_num_threads(before)
    return steps, [s for p in passes for s in p.seconds], logits.double()


def run_metrics(case: Case, per_rank: pd.DataFrame, losses: list[float],
                logits: np.ndarray, threads: int,
                test: tuple[torch.Tensor, torch.Tensor]) -> list[dict]:
    """Run-level rows of a secure training run (see :data:`TRAIN_METRICS`): losses, time
    per step (median over the steps of the slowest
    party's step) and per epoch against plaintext SGD, and the trained model's test accuracy
    (``accuracy``) next to plaintext's (``plain_accuracy``), their ``agreement`` and the
    largest logit difference (``max_abs_err``), on the ``test`` images and labels."""
    steps = per_rank[(per_rank.phase == TRAIN_STEP) & (per_rank.metric == "wall_s")]
    secure_s = steps.groupby("repeat")["value"].max().sort_index().tolist()
    test_images, labels = test
    ref, plain_seconds, plain_logits = reference(case, threads, test_images)
    per_epoch = steps_per_epoch(case)
    rows = [_row("loss", v, s, TRAIN_STEP) for s, v in enumerate(losses)]
    rows += [_row("plain_loss", v, s, TRAIN_STEP) for s, v in enumerate(ref.losses)]
    s_per_step, plain_s = float(np.median(secure_s)), float(np.median(plain_seconds))
    epoch, source = _epoch(secure_s, per_epoch)
    plain_epoch, plain_source = _epoch(ref.seconds, per_epoch)
    if plain_source == "extrapolated":  # from the median of every pass's steps
        plain_epoch = plain_s * per_epoch
    rows += [_row("s_per_step", s_per_step), _row("plain_s_per_step", plain_s),
             _row("s_per_epoch", epoch, source=source),
             _row("plain_s_per_epoch", plain_epoch, source=plain_source),
             _row("slowdown", s_per_step / plain_s)]
    secure = torch.from_numpy(logits)
    pred, plain_pred = secure.argmax(1), plain_logits.argmax(1)
    rows += [_row("accuracy", (pred == labels).double().mean()),
             _row("plain_accuracy", (plain_pred == labels).double().mean()),
             _row("agreement", (pred == plain_pred).double().mean()),
             _row("max_abs_err", (secure - plain_logits).abs().max())]
    return rows
