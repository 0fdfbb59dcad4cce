"""Feature-inversion attacks on the complex features: the shared decoder
(:mod:`mpcbench.baselines.inversion`) against a secret angle. The attacker knows the
client's encoder (the worst case). Against complex features with a secret angle it tries
``k`` candidate angles ``2 pi j / k``, decodes the real part of each back-rotated tensor and
is credited with its best candidate per image (an upper bound on what it can pick).

A second attacker needs no guesses: when ``a`` and ``b`` are non-negative (ReLU outputs),
the phases of one image's features fill exactly the quarter circle ``[theta, theta + pi/2]``
(features with ``b = 0`` sit on its start), so the start of that arc reveals ``theta``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..inversion import Features, build_attacker, per_image_mse, plain_mse, train_attacker
from .model import ComplexNet, rotate

__all__ = ["Features", "build_attacker", "estimate_angle", "per_image_mse", "phase_mse",
           "plain_mse", "rotated_mse", "train_attacker"]

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
