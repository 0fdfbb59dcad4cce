"""The cnn split after its first conv block (conv 1->32 3x3 + ReLU): the client computes
that block and sends its activation, the server computes the rest of the cnn.

Trained weights: ``split-<dataset>.pt`` (plain training) and ``split-dp<sigma>-<dataset>.pt``
(DP-SGD at noise multiplier ``sigma``), all written by :func:`train`; the DP entries of the
weights manifest record what the privacy accountant needs (noise, sample rate, steps).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ...models import WEIGHTS_DIR, cnn, load_weights

#: model name (weights ``data/weights/split-<dataset>.pt``)
NAME = "split"
DEFAULT_BATCH = 8
#: index of the first server layer in ``cnn.build()``: conv1 and its ReLU stay on the client
CUT = 2
#: shape of the activation the client sends per image (the complex encoder's feature shape)
ACTIVATION = (32, 26, 26)
#: bytes on the wire per image (float32 activation)
ACTIVATION_BYTES = 4 * ACTIVATION[0] * ACTIVATION[1] * ACTIVATION[2]
#: the training recipe of ``mpcbench train --model split``: images, epochs, batch, lr
TRAIN_IMAGES, EPOCHS, BATCH, LR = 4000, 1, 64, 1e-3
#: noise multipliers trained (0: plain training, no clipping, no noise)
NOISE_SETTINGS = (0.0, 0.7, 0.5, 0.3)


class SplitNet(nn.Module):
    """The cnn as two halves: ``client`` (first conv block) and ``server`` (the rest)."""

    def __init__(self, net: nn.Sequential) -> None:
        super().__init__()
        self.client = net[:CUT]
        self.server = net[CUT:]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.server(self.client(x))


def build() -> SplitNet:
    """A fresh split cnn (the layers of :func:`mpcbench.models.cnn.build`)."""
    return SplitNet(cnn.build())


def weights_name(noise_multiplier: float) -> str:
    """``split`` for plain training, ``split-dp<sigma>`` for DP-SGD at noise ``sigma``."""
    return NAME if noise_multiplier == 0 else f"{NAME}-dp{noise_multiplier:g}"


def load(dataset: str, noise_multiplier: float = 0.0,
         weights_dir: Path = WEIGHTS_DIR) -> SplitNet:
    """The trained split cnn of ``dataset`` (DP-SGD at ``noise_multiplier``), in eval mode."""
    return load_weights(build(), weights_name(noise_multiplier), dataset, weights_dir)


def train(
    dataset: str,
    epochs: int | None = None,
    batch: int | None = None,
    lr: float = LR,
    seed: int = 0,
    limit: int | None = None,
    save: bool = True,
    progress: Callable[[int, int], None] | None = None,
    noise_multipliers: tuple[float, ...] = NOISE_SETTINGS,
):
    """Train one split cnn per noise multiplier on the first ``limit`` (default
    :data:`TRAIN_IMAGES`) training images: Adam for 0, DP-SGD (clip 1, Poisson batches of
    expected size ``batch``, default :data:`BATCH`) otherwise; returns the last one's
    result."""
    import math
    import time

    from ... import data
    from ...models import WeightsInfo, save_weights
    from ...models.train import TrainResult, accuracy, fit
    from .private import CLIP, DELTA, train_private

    epochs, batch, limit = epochs or EPOCHS, batch or BATCH, limit or TRAIN_IMAGES
    x, y = data.load(dataset, "train", limit=limit)
    xt, yt = data.load(dataset, "test")
    result = None
    for i, sigma in enumerate(noise_multipliers):
        if progress:
            progress(i, len(noise_multipliers))
        torch.manual_seed(seed)
        if sigma == 0:
            result = fit(build(), NAME, dataset, epochs, batch, lr, seed, limit, save)
            continue
        start = time.perf_counter()
        private = train_private(build(), x, y, sigma, epochs, batch, lr, seed=seed)
        acc = accuracy(private.model, xt, yt)
        seconds = time.perf_counter() - start
        meta = {"test_accuracy": acc, "epochs": epochs, "seed": seed,
                "train_seconds": round(seconds, 1), "train_images": len(x),
                "noise_multiplier": sigma, "max_grad_norm": CLIP, "delta": DELTA,
                "sample_rate": 1 / math.ceil(len(x) / batch), "steps": private.steps,
                "epsilon": private.epsilon}
        name = weights_name(sigma)
        info = (save_weights(private.model, name, dataset, meta) if save
                else WeightsInfo(None, "", acc))
        result = TrainResult(name, dataset, epochs, acc, seconds, info)
    if progress:
        progress(len(noise_multipliers), len(noise_multipliers))
    return result
