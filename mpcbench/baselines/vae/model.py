"""The study's MLP VAE on flattened images, with ReLU instead of sigmoid hidden units.

Encoder mean ``mu``: 784 -> 256 -> 256 -> 256 -> 64 (ReLU between); the encoder standard
deviation is a fixed ``sigma_enc``, so ``z ~ N(mu(x), sigma_enc^2 I)``. Decoder ``g``:
64 -> 256 -> 256 -> 256 -> 784, linear output reshaped to ``[1, 28, 28]``. Images are
pixels in [0, 1].
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from ...models import INPUT_SHAPE

#: latent size and hidden width of the study's image VAEs; hidden layers per half
LATENT, HIDDEN, DEPTH = 64, 256, 3
PIXELS = INPUT_SHAPE[0] * INPUT_SHAPE[1] * INPUT_SHAPE[2]


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of ``sizes`` with a ReLU between consecutive ones."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """Encoder mean and decoder of a VAE whose encoder std is the constant ``sigma_enc``."""

    def __init__(self, sigma_enc: float, latent: int = LATENT, hidden: int = HIDDEN,
                 depth: int = DEPTH) -> None:
        super().__init__()
        self.sigma_enc = sigma_enc
        self.encoder = nn.Sequential(nn.Flatten(), *mlp([PIXELS, *[hidden] * depth, latent]))
        self.decoder = nn.Sequential(*mlp([latent, *[hidden] * depth, PIXELS]),
                                     nn.Unflatten(1, INPUT_SHAPE))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic reconstruction ``g(mu(x))`` (what the certificate covers)."""
        return self.decoder(self.encoder(x))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(g(z), mu(x))`` with ``z = mu(x) + sigma_enc * N(0, I)``."""
        mu = self.encoder(x)
        return self.decoder(mu + self.sigma_enc * torch.randn_like(mu)), mu
