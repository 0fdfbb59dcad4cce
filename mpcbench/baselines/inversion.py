"""Feature-inversion attack: a transposed-conv decoder trained to rebuild the input image
from the features a server sees (the attacker knows the client's encoder: the worst case),
and its reconstruction error. Shared by the baselines that send features (split, complex).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .perturb import to_pixels

Features = Callable[[torch.Tensor], torch.Tensor]


def build_attacker(channels: int) -> nn.Sequential:
    """Decoder from ``[N, channels, 26, 26]`` features to ``[N, 1, 28, 28]`` pixels in [0, 1]."""
    return nn.Sequential(
        nn.Conv2d(channels, 64, 3, padding=1),
        nn.ReLU(),
        nn.ConvTranspose2d(64, 32, 3),
        nn.ReLU(),
        nn.Conv2d(32, 1, 3, padding=1),
        nn.Sigmoid(),
    )


def train_attacker(
    features: Features,
    x: torch.Tensor,
    dataset: str,
    epochs: int = 2,
    batch: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
) -> nn.Sequential:
    """Fit an attacker to rebuild the pixels of ``x`` from ``features(x)`` (MSE, Adam)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        channels = features(x[:1]).shape[1]
    attacker = build_attacker(channels)
    opt = torch.optim.Adam(attacker.parameters(), lr=lr)
    target = to_pixels(x, dataset)
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(batch):
            with torch.no_grad():
                f = features(x[idx])
            opt.zero_grad()
            F.mse_loss(attacker(f), target[idx]).backward()
            opt.step()
    return attacker.eval()


def per_image_mse(
    attacker: nn.Module, f: torch.Tensor, x: torch.Tensor, dataset: str
) -> torch.Tensor:
    """Reconstruction MSE (pixel units) of each image of a batch."""
    with torch.no_grad():
        return (attacker(f) - to_pixels(x, dataset)).square().flatten(1).mean(1)


def plain_mse(attacker: nn.Module, features: Features, x: torch.Tensor, dataset: str) -> float:
    """Mean reconstruction MSE from unprotected features."""
    with torch.no_grad():
        return float(per_image_mse(attacker, features(x), x, dataset).mean())
