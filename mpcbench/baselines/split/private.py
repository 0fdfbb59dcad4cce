"""DP-SGD training with Opacus and its privacy accounting.

Every step samples a Poisson batch (each training image independently with probability
``batch / N``), clips each image's gradient to L2 norm ``max_grad_norm``, adds Gaussian
noise of std ``noise_multiplier * max_grad_norm`` to their sum and divides by the expected
batch size; Adam then takes the step. Epsilon is the RDP accountant's, at ``delta``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from opacus import GradSampleModule, PrivacyEngine
from opacus.accountants import RDPAccountant
from opacus.optimizers import DPOptimizer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

#: per-sample clipping norm and target delta of the study
CLIP, DELTA = 1.0, 1e-5
#: noise multipliers of the study (epsilon 4.0 / 12.5 / 84.7 there)
NOISE_MULTIPLIERS = (0.7, 0.5, 0.3)
ACCOUNTANT = "rdp"


@dataclass(frozen=True)
class PrivateResult:
    """Outcome of :func:`train_private`: the trained (unwrapped) model and its budget."""

    model: nn.Module
    noise_multiplier: float
    epsilon: float
    steps: int
    seconds: float


def make_private(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    noise_multiplier: float,
    batch: int = 64,
    lr: float = 1e-3,
    max_grad_norm: float = CLIP,
    seed: int = 0,
) -> tuple[GradSampleModule, DPOptimizer, DataLoader, PrivacyEngine]:
    """Wrap ``model`` for DP-SGD on ``(x, y)``: per-sample-gradient module, clipping and
    noising Adam optimizer, Poisson-sampling loader and the engine holding the accountant."""
    torch.manual_seed(seed)
    engine = PrivacyEngine(accountant=ACCOUNTANT)
    module, optimizer, loader = engine.make_private(
        module=model,
        optimizer=torch.optim.Adam(model.parameters(), lr=lr),
        data_loader=DataLoader(TensorDataset(x, y), batch_size=batch),
        noise_multiplier=noise_multiplier,
        max_grad_norm=max_grad_norm,
        noise_generator=torch.Generator().manual_seed(seed),
    )
    return module, optimizer, loader, engine


def train_private(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    noise_multiplier: float,
    epochs: int = 1,
    batch: int = 64,
    lr: float = 1e-3,
    max_grad_norm: float = CLIP,
    delta: float = DELTA,
    max_steps: int | None = None,
    seed: int = 0,
) -> PrivateResult:
    """Train ``model`` in place with DP-SGD on cross entropy for ``epochs`` passes (or
    ``max_steps`` steps, whichever ends first); epsilon counts the steps actually taken."""
    module, optimizer, loader, engine = make_private(
        model, x, y, noise_multiplier, batch, lr, max_grad_norm, seed)
    steps, start = 0, time.perf_counter()
    module.train()
    for _ in range(epochs):
        for xb, yb in loader:
            if max_steps is not None and steps >= max_steps:
                break
            optimizer.zero_grad()
            nn.functional.cross_entropy(module(xb), yb).backward()
            optimizer.step()
            steps += 1
    eps = engine.get_epsilon(delta)
    trained = module.to_standard_module().eval()
    return PrivateResult(trained, noise_multiplier, eps, steps, time.perf_counter() - start)


def epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float = DELTA
            ) -> float:
    """Epsilon (RDP accountant) of ``steps`` DP-SGD steps at ``sample_rate``."""
    accountant = RDPAccountant()
    accountant.history = [(noise_multiplier, sample_rate, steps)]
    return accountant.get_epsilon(delta)
