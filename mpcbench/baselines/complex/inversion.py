"""Feature-inversion attack: a transposed-conv decoder trained to rebuild the input image
from the features a server sees.

The attacker knows the client's encoder (the worst case): it trains its decoder on pairs of
real encoder features and images. Against complex features with a secret angle it tries
``k`` candidate angles ``2 pi j / k``, decodes the real part of each back-rotated tensor and
is credited with its best candidate per image (an upper bound on what it can pick).

A second attacker needs no guesses: when ``a`` and ``b`` are non-negative (ReLU outputs),
the phases of one image's features fill exactly the quarter circle ``[theta, theta + pi/2]``
(features with ``b = 0`` sit on its start), so the start of that arc reveals ``theta``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..perturb import to_pixels
from .model import ComplexNet, rotate

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


def rotated_mse(
    attacker: nn.Module,
    model: ComplexNet,
    x: torch.Tensor,
    dataset: str,
    ks: tuple[int, ...],
    seed: int = 0,
) -> dict[int, float]:
    """Mean best-of-``k`` reconstruction MSE from the rotated features the server receives."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        z, _ = model.encode(x, generator=gen)
        out = {}
        for k in ks:
            cands = [rotate(z, torch.full((len(z),), -2 * math.pi * j / k)).real for j in range(k)]
            errs = torch.stack([per_image_mse(attacker, c, x, dataset) for c in cands])
            out[k] = float(errs.min(0).values.mean())
    return out


def estimate_angle(z: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Per image, the phase that follows the widest empty arc of its features' phases."""
    out = torch.empty(len(z))
    for i, zi in enumerate(z.flatten(1)):
        phase = zi[zi.abs() > eps].angle().sort().values
        gaps = torch.diff(phase, append=phase[:1] + 2 * math.pi)
        out[i] = phase[(int(gaps.argmax()) + 1) % len(phase)]
    return out


def phase_mse(
    attacker: nn.Module, model: ComplexNet, x: torch.Tensor, dataset: str, seed: int = 0
) -> float:
    """Mean reconstruction MSE after rotating back by the angle estimated from the phases."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        z, _ = model.encode(x, generator=gen)
        guess = rotate(z, -estimate_angle(z)).real
        return float(per_image_mse(attacker, guess, x, dataset).mean())
