"""Training of the VAE: summed squared error plus the KL divergence to N(0, I) (the
study's loss), Adam lr 1e-3, batch 256, optionally with Gaussian noise on the inputs."""

from __future__ import annotations

import math
import time

import torch
from torch import nn

EPOCHS, BATCH, LR = 5, 256, 1e-3


def loss(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``||x - g(z)||^2 + KL(N(mu, sigma_enc^2 I) || N(0, I))`` for
    a :class:`~mpcbench.baselines.vae.model.VAE` ``model``."""
    recon, mu = model(x)
    sse = (recon - x).square().flatten(1).sum(1)
    var = model.sigma_enc**2
    kl = 0.5 * (var + mu.square() - 1 - math.log(var)).sum(1)
    return (sse + kl).mean()


def train(
    model: nn.Module,
    x: torch.Tensor,
    epochs: int = EPOCHS,
    batch: int = BATCH,
    lr: float = LR,
    input_noise: float = 0.0,
    seed: int = 0,
) -> float:
    """Train ``model`` in place on pixel images ``x``; return the seconds it took.

    ``input_noise`` is the std (pixels) of the zero-mean Gaussian noise added to every
    training input, which the model then reconstructs (the study's noise injection).
    """
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(batch):
            xb = x[idx]
            if input_noise:
                xb = xb + input_noise * torch.randn_like(xb)
            opt.zero_grad()
            loss(model, xb).backward()
            opt.step()
    model.eval()
    return time.perf_counter() - start
