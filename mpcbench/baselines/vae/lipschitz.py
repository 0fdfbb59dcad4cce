"""Lipschitz upper bounds of the VAE's encoder mean and decoder, and the certified radius.

A chain of linear layers and ReLUs is Lipschitz (L2 to L2) with constant at most the
product of the layers' spectral norms, since ReLU, flatten and reshape are 1-Lipschitz.
Spectral norms are exact (largest singular value, float64), not power-iteration estimates.

Certificate: for the deterministic reconstruction ``r(x) = g(mu(x))`` and any input
perturbation ``delta``, ``||r(x + delta) - r(x)||_2 <= L_g * L_mu * ||delta||_2``. The
certified radius for a tolerance ``tau`` (L2 distance of reconstructions, pixel units) is
``R(tau) = tau / (L_g * L_mu)``: no perturbation of L2 norm at most ``R(tau)`` moves the
reconstruction of any image by more than ``tau``. It is global (the same for every image)
and covers the mean path the study attacks, not the sampled latent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ...errors import InputError
from .model import VAE

#: layers that do not increase L2 distances
ONE_LIPSCHITZ = (nn.ReLU, nn.Flatten, nn.Unflatten)


class UnboundedLayer(InputError, TypeError):
    """A layer the spectral-norm bound does not cover."""


def spectral_norms(net: nn.Sequential) -> list[float]:
    """Largest singular value of every Linear weight of ``net``, in order."""
    norms = []
    for layer in net:
        if isinstance(layer, nn.Linear):
            w = layer.weight.detach().double()
            norms.append(float(torch.linalg.matrix_norm(w, 2)))
        elif not isinstance(layer, ONE_LIPSCHITZ):
            raise UnboundedLayer(f"no Lipschitz bound for layer {type(layer).__name__}")
    return norms


def lipschitz_bound(net: nn.Sequential) -> float:
    """Upper bound of ``net``'s L2 Lipschitz constant: the product of its spectral norms."""
    return math.prod(spectral_norms(net))


@dataclass(frozen=True)
class Certificate:
    """Lipschitz bounds of a VAE's encoder mean (``encoder``) and decoder (``decoder``)."""

    encoder: float
    decoder: float

    @property
    def reconstruction(self) -> float:
        """Bound of the reconstruction ``g(mu(x))``: ``L_g * L_mu``."""
        return self.encoder * self.decoder

    def bound(self, radius: float) -> float:
        """Largest reconstruction change a perturbation of L2 norm ``radius`` can cause."""
        return self.reconstruction * radius

    def radius(self, tolerance: float) -> float:
        """Certified radius ``R(tolerance) = tolerance / (L_g * L_mu)``."""
        return tolerance / self.reconstruction


def certify(model: VAE) -> Certificate:
    """The Lipschitz certificate of ``model``."""
    return Certificate(lipschitz_bound(model.encoder), lipschitz_bound(model.decoder))
