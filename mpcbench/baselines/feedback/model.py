"""``cnnf``: the cnn with recurrent generative feedback (CNN-F).

The forward path is the cnn without dropout. The generative (feedback) path runs from the
logits back to the image with the transposed forward weights, the ReLU masks and the
max-pool indices of the preceding forward pass, and subtracts the forward biases. Each of
``cycles`` iterations feeds the logits back to a reconstruction ``x_hat`` of the image and
moves the input a ``residual`` step towards it, ``x <- x + residual * (x_hat - x)``,
before the next forward pass; the last forward pass classifies.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ...models import WEIGHTS_DIR, load_weights

#: model name (weights ``data/weights/cnnf-<dataset>.pt``)
NAME = "cnnf"
DEFAULT_BATCH = 8
#: best setting of the reference reproduction's grid search
CYCLES, RESIDUAL = 2, 0.1
#: training recipe: SGD with momentum and polynomial learning-rate decay
LR, MOMENTUM, POLY_POWER = 0.01, 0.9, 0.9
DEFAULT_EPOCHS = 1
#: training images per epoch (each used clean and noisy; keeps a CPU epoch to minutes)
DEFAULT_LIMIT = 15000
#: Gaussian noise of the noisy training twins, in pixel units (images in [0, 1])
TRAIN_NOISE = 0.3
#: weights of the CNN-F losses: forward CE, CE after feedback, the three reconstruction MSEs
LOSS_WEIGHTS = {"ce_forward": 0.5, "ce_feedback": 0.5, "mse": 0.1}


@dataclass
class ForwardState:
    """What the feedback pass reuses from a forward pass."""

    logits: torch.Tensor
    #: ReLU output of conv1 ``[N,32,26,26]`` and max-pool output ``[N,64,12,12]``
    block1: torch.Tensor
    block2: torch.Tensor
    mask1: torch.Tensor
    mask2: torch.Tensor
    mask3: torch.Tensor
    pool_indices: torch.Tensor


@dataclass
class Reconstruction:
    """Output of a feedback pass: the image and the two intermediate blocks."""

    image: torch.Tensor
    block1: torch.Tensor
    block2: torch.Tensor


@dataclass
class Run:
    """The first and the final forward pass and the last reconstruction of :meth:`CNNF.run`."""

    first: ForwardState
    final: ForwardState
    recon: Reconstruction | None


class CNNF(nn.Module):
    """cnn layers with a weight-tied generative feedback path, iterated ``cycles`` times."""

    def __init__(self, cycles: int = CYCLES, residual: float = RESIDUAL) -> None:
        super().__init__()
        self.cycles, self.residual = cycles, residual
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def up(self, x: torch.Tensor) -> ForwardState:
        """Forward pass, keeping masks and pool indices for the feedback pass."""
        h1 = self.conv1(x)
        block1 = h1.clamp_min(0)
        h2 = self.conv2(block1)
        block2, indices = F.max_pool2d(h2.clamp_min(0), 2, return_indices=True)
        h3 = self.fc1(block2.flatten(1))
        logits = self.fc2(h3.clamp_min(0))
        return ForwardState(logits, block1, block2, h1 > 0, h2 > 0, h3 > 0, indices)

    def down(self, state: ForwardState) -> Reconstruction:
        """Feedback pass from the logits: transposed weights, forward masks and indices."""
        r3 = F.linear(state.logits - self.fc2.bias, self.fc2.weight.t()) * state.mask3
        block2 = F.linear(r3 - self.fc1.bias, self.fc1.weight.t()).view_as(state.block2)
        r2 = F.max_unpool2d(block2, state.pool_indices, 2, output_size=state.mask2.shape[-2:])
        r2 = r2 * state.mask2 - self.conv2.bias.view(1, -1, 1, 1)
        block1 = F.conv_transpose2d(r2, self.conv2.weight) * state.mask1
        image = F.conv_transpose2d(block1 - self.conv1.bias.view(1, -1, 1, 1), self.conv1.weight)
        return Reconstruction(image, block1, block2)

    def run(self, x: torch.Tensor, cycles: int | None = None) -> Run:
        """Forward pass, then ``cycles`` (default ``self.cycles``) feedback cycles."""
        first = state = self.up(x)
        recon = None
        for _ in range(self.cycles if cycles is None else cycles):
            recon = self.down(state)
            x = x + self.residual * (recon.image - x)
            state = self.up(x)
        return Run(first, state, recon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x).final.logits


def build(cycles: int = CYCLES, residual: float = RESIDUAL) -> CNNF:
    """A fresh CNN-F."""
    return CNNF(cycles, residual)


def load(dataset: str, weights_dir: Path = WEIGHTS_DIR) -> CNNF:
    """The trained CNN-F of ``dataset`` (trained cycles and residual), in eval mode."""
    return load_weights(build(), NAME, dataset, weights_dir)


def losses(
    model: CNNF, clean: torch.Tensor, noisy: torch.Tensor, y: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The CNN-F losses of a batch of clean images and their perturbed twins.

    Cross entropy of the forward logits and of the logits after feedback (both halves);
    MSE between the reconstruction from the perturbed image and the clean image, and
    between the reconstructed intermediate blocks and the clean forward blocks.
    """
    run = model.run(torch.cat([clean, noisy]))
    n, yy = len(clean), torch.cat([y, y])
    return {
        "ce_forward": F.cross_entropy(run.first.logits, yy),
        "ce_feedback": F.cross_entropy(run.final.logits, yy),
        "mse_image": F.mse_loss(run.recon.image[n:], clean),
        "mse_block1": F.mse_loss(run.recon.block1[n:], run.first.block1[:n].detach()),
        "mse_block2": F.mse_loss(run.recon.block2[n:], run.first.block2[:n].detach()),
    }


def train(
    dataset: str,
    epochs: int | None = None,
    batch: int = 128,
    lr: float = LR,
    seed: int = 0,
    limit: int | None = None,
    save: bool = True,
    progress: Callable[[int, int], None] | None = None,
):
    """Train on clean + Gaussian-noisy pairs with the CNN-F losses and SGD, polynomial lr decay.

    Starts from the trained cnn's weights (the same forward layers) and uses the first
    ``limit`` (default :data:`DEFAULT_LIMIT`) training images, so a CPU run takes minutes.
    """
    from ... import data
    from ...models import WeightsInfo, load_trained, save_weights
    from ...models.train import TrainResult, accuracy
    from ..perturb import gaussian

    torch.manual_seed(seed)
    epochs = epochs or DEFAULT_EPOCHS
    x, y = data.load(dataset, "train", limit=limit or DEFAULT_LIMIT)
    xt, yt = data.load(dataset, "test")
    model = build()
    init = load_trained("cnn", dataset).state_dict()
    model.load_state_dict({k: init[v] for k, v in _CNN_KEYS.items()})
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
    steps = epochs * math.ceil(len(x) / batch)
    sched = torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=steps, power=POLY_POWER)
    start, done = time.perf_counter(), 0
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x)).split(batch):
            clean = x[idx]
            terms = losses(model, clean, gaussian(clean, TRAIN_NOISE, dataset), y[idx])
            loss = sum(LOSS_WEIGHTS.get(k, LOSS_WEIGHTS["mse"]) * v for k, v in terms.items())
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            done += 1
            if progress:
                progress(done, steps)
    acc = accuracy(model, xt, yt)
    seconds = time.perf_counter() - start
    meta = {
        "test_accuracy": acc,
        "epochs": epochs,
        "seed": seed,
        "train_seconds": round(seconds, 1),
        "train_images": len(x),
        "cycles": model.cycles,
        "residual": model.residual,
        "train_noise": TRAIN_NOISE,
    }
    info = save_weights(model, NAME, dataset, meta) if save else WeightsInfo(None, "", acc)
    return TrainResult(NAME, dataset, epochs, acc, seconds, info)


#: CNN-F parameter -> parameter of the cnn's ``nn.Sequential`` it starts from
_CNN_KEYS = {
    "conv1.weight": "0.weight",
    "conv1.bias": "0.bias",
    "conv2.weight": "2.weight",
    "conv2.bias": "2.bias",
    "fc1.weight": "7.weight",
    "fc1.bias": "7.bias",
    "fc2.weight": "10.weight",
    "fc2.bias": "10.bias",
}
