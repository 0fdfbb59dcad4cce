"""Angle estimate from the mean phase of the features, for encoders with signed features.

The fake component ``b`` is another image's features, so per channel ``c``
``E[a_c + i b_c] = m_c (1 + i)``, where ``m_c`` is the mean of channel ``c`` of the encoder
features, which an attacker who knows the encoder measures on images of its own. Hence
``E[z_c] = exp(i theta) m_c (1 + i)`` and, per image,
``theta ~ arg(sum_c m_c sum_pixels z_c) - pi / 4``. Unlike the widest-empty-arc estimate of
:func:`mpcbench.baselines.complex.inversion.estimate_angle`, it does not need non-negative features;
it fails only when the channel means vanish.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..inversion import Features, per_image_mse
from .model import ComplexNet, rotate


def channel_means(encoder: Features, x: torch.Tensor) -> torch.Tensor:
    """Mean of every channel of ``encoder(x)``: ``[channels]``."""
    with torch.no_grad():
        return encoder(x).mean(dim=(0, 2, 3))


def estimate_angle(z: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """Per image, ``arg(sum_c m_c sum_pixels z_c) - pi / 4``."""
    return (means.view(1, -1, 1, 1) * z).sum(dim=(1, 2, 3)).angle() - math.pi / 4


def mean_phase_mse(
    attacker: nn.Module,
    model: ComplexNet,
    means: torch.Tensor,
    x: torch.Tensor,
    dataset: str,
    seed: int = 0,
) -> float:
    """Mean reconstruction MSE after rotating back by the mean-phase estimate of the angle."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        z, _ = model.encode(x, generator=gen)
        guess = rotate(z, -estimate_angle(z, means)).real
        return float(per_image_mse(attacker, guess, x, dataset).mean())
