"""Plaintext training of the shared models on the vendored datasets."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import torch
from torch import nn

from .. import data
from . import WeightsInfo, module, save_weights

#: epochs that reach the expected accuracy on 2 CPU cores in a few minutes
DEFAULT_EPOCHS = {"mlp": 8, "bnn": 8, "cnn": 2}


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train`."""

    model: str
    dataset: str
    epochs: int
    test_accuracy: float
    seconds: float
    weights: WeightsInfo


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    """Top-1 accuracy of ``model`` (in eval mode) on ``x, y``."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
    return correct / len(x)


def train(
    name: str,
    dataset: str,
    epochs: int | None = None,
    batch: int = 128,
    lr: float | None = None,
    seed: int = 0,
    limit: int | None = None,
    save: bool = True,
    progress: Callable[[int, int], None] | None = None,
    model_module: ModuleType | None = None,
) -> TrainResult:
    """Train model ``name`` with Adam (lr 1e-3); save weights + checksum + test accuracy.

    ``model_module`` defines the model (default: the shared model ``name``).
    ``progress(done, total)`` is called after every optimisation step. A model module
    with a training procedure of its own (a ``train`` function) is trained by it, with
    its own learning rate unless ``lr`` is given.
    """
    mod = model_module or module(name)
    own = getattr(mod, "train", None)
    if own is not None:
        return own(dataset, epochs=epochs, batch=batch, seed=seed, limit=limit,
                   save=save, progress=progress, **({} if lr is None else {"lr": lr}))
    torch.manual_seed(seed)
    return fit(mod.build(), name, dataset, epochs or DEFAULT_EPOCHS.get(name, 2), batch,
               lr or 1e-3, seed, limit, save, progress)


def fit(
    model: nn.Module,
    name: str,
    dataset: str,
    epochs: int,
    batch: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    limit: int | None = None,
    save: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Train ``model`` on cross entropy with Adam and a cosine schedule; save it as ``name``."""
    x, y = data.load(dataset, "train", limit=limit)
    xt, yt = data.load(dataset, "test")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    steps_per_epoch = (len(x) + batch - 1) // batch
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x))
        for step in range(steps_per_epoch):
            idx = perm[step * batch : (step + 1) * batch]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
            if progress:
                progress(epoch * steps_per_epoch + step + 1, epochs * steps_per_epoch)
        sched.step()
    acc = accuracy(model, xt, yt)
    seconds = time.perf_counter() - start
    meta = {"test_accuracy": acc, "epochs": epochs, "seed": seed,
            "train_seconds": round(seconds, 1)}
    info = save_weights(model, name, dataset, meta) if save else WeightsInfo(None, "", acc)
    return TrainResult(name, dataset, epochs, acc, seconds, info)
