"""Input perturbations in pixel units (images in [0, 1]) for normalised image batches."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import data


def _bounds(dataset: str) -> tuple[float, float, float]:
    """Normalised values of pixel 0 and pixel 1, and the normalisation std."""
    mean, std = data.NORMALISATION[dataset]
    return -mean / std, (1 - mean) / std, std


def to_pixels(x: torch.Tensor, dataset: str) -> torch.Tensor:
    """Normalised images back to pixel values in [0, 1]."""
    mean, std = data.NORMALISATION[dataset]
    return x * std + mean


def gaussian(
    x: torch.Tensor, sigma: float, dataset: str, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Add Gaussian noise of std ``sigma`` (pixel units), clipped to valid pixels."""
    lo, hi, std = _bounds(dataset)
    noise = torch.randn(x.shape, generator=generator) * (sigma / std)
    return (x + noise).clamp(lo, hi)


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    dataset: str,
    steps: int = 10,
    alpha: float | None = None,
    random_start: bool = True,
) -> torch.Tensor:
    """L-infinity projected gradient ascent on the cross entropy, radius ``eps`` in pixels.

    Step ``alpha`` defaults to ``2.5 * eps / steps``; the model is attacked end to end
    (through the feedback cycles of a CNN-F).
    """
    lo, hi, std = _bounds(dataset)
    radius = eps / std
    step = (alpha if alpha is not None else 2.5 * eps / steps) / std
    adv = x.clone()
    if random_start:
        adv = (adv + torch.empty_like(x).uniform_(-radius, radius)).clamp(lo, hi)
    for _ in range(steps):
        adv.requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model(adv), y), adv)
        adv = adv.detach() + step * grad.sign()
        adv = torch.minimum(torch.maximum(adv, x - radius), x + radius).clamp(lo, hi)
    return adv.detach()


def fgsm(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, dataset: str
) -> torch.Tensor:
    """Fast gradient sign method: one full ``eps`` step along the sign of the gradient."""
    return pgd(model, x, y, eps, dataset, steps=1, alpha=eps, random_start=False)
