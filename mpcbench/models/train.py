"""Plaintext training of the shared models on the vendored datasets, and the plaintext
SGD steps secure training is compared with (same initial weights, batches and rate)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import torch
from torch import nn

from .. import data
from . import WeightsInfo, build, module, save_weights

#: epochs that reach the expected accuracy on 2 CPU cores in a few minutes
DEFAULT_EPOCHS = {"mlp": 8, "bnn": 8, "cnn": 2}
#: training batch size (also secure training's default)
BATCH = 128


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
    batch: int = BATCH,
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


def initial_model(name: str, seed: int) -> nn.Module:
    """The untrained model ``name`` as :func:`train` starts it with ``seed``."""
    torch.manual_seed(seed)
    return build(name)


def blank(model: nn.Module) -> nn.Module:
    """``model`` with every parameter zeroed (what a party without the weights holds)."""
    with torch.no_grad():
        for param in model.parameters():
            param.zero_()
    return model


def sgd_plan(train_images: int, batch: int, steps: int, seed: int) -> list[torch.Tensor]:
    """Indices of the training images of every SGD step: batches drawn without
    replacement from ``range(train_images)``, reshuffled (from ``seed``) every epoch."""
    gen = torch.Generator().manual_seed(seed)
    order: list[torch.Tensor] = []
    need = steps * batch
    while sum(len(o) for o in order) < need:
        order.append(torch.randperm(train_images, generator=gen))
    flat = torch.cat(order)
    per_epoch = -(-train_images // batch)  # the last batch of an epoch may be short
    plan = []
    for step in range(steps):
        epoch, k = divmod(step, per_epoch)
        lo = epoch * train_images + k * batch
        plan.append(flat[lo : min(lo + batch, (epoch + 1) * train_images)])
    return plan


@dataclass(frozen=True)
class SgdSteps:
    """What plaintext SGD steps did: the loss before each step and its wall time."""

    losses: list[float]
    seconds: list[float]
    model: nn.Module


def sgd_steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
              plan: list[torch.Tensor], lr: float) -> SgdSteps:
    """Plain SGD on cross entropy, one step per entry of ``plan`` (indices into ``x, y``),
    timing each step (forward, backward, update)."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    losses, seconds = [], []
    for idx in plan:
        start = time.perf_counter()
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        seconds.append(time.perf_counter() - start)
        losses.append(loss.item())
    return SgdSteps(losses, seconds, model)
