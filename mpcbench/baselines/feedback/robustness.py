"""Accuracy of a classifier on clean, Gaussian-noisy and adversarial (FGSM, PGD) images."""

from __future__ import annotations

import torch
from torch import nn

from ...models.train import accuracy
from ..perturb import fgsm, gaussian, pgd

#: defaults in pixel units: noise std, attack radius, PGD steps
SIGMA, EPS, PGD_STEPS = 0.3, 0.1, 10


def adversarial_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    dataset: str,
    eps: float,
    steps: int,
    batch: int = 250,
) -> float:
    """Accuracy on PGD examples of radius ``eps`` (``steps = 1``: FGSM)."""
    model.eval()
    correct = 0
    for xb, yb in zip(x.split(batch), y.split(batch), strict=True):
        if steps == 1:
            adv = fgsm(model, xb, yb, eps, dataset)
        else:
            adv = pgd(model, xb, yb, eps, dataset, steps)
        with torch.no_grad():
            correct += int((model(adv).argmax(1) == yb).sum())
    return correct / len(x)


def robustness(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    dataset: str,
    sigma: float = SIGMA,
    eps: float = EPS,
    pgd_steps: int = PGD_STEPS,
    adversarial_limit: int | None = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """``accuracy_clean``, ``accuracy_noisy`` (all of ``x``) and ``accuracy_fgsm``,
    ``accuracy_pgd`` (the first ``adversarial_limit`` images)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    xa, ya = x[:adversarial_limit], y[:adversarial_limit]
    return {
        "accuracy_clean": accuracy(model, x, y),
        "accuracy_noisy": accuracy(model, gaussian(x, sigma, dataset, gen), y),
        "accuracy_fgsm": adversarial_accuracy(model, xa, ya, dataset, eps, 1),
        "accuracy_pgd": adversarial_accuracy(model, xa, ya, dataset, eps, pgd_steps),
    }
