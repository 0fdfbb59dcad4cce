"""Maximum-damage attack: the input perturbation of L2 norm at most ``radius`` that moves
the deterministic reconstruction furthest,
``delta* = argmax_{||delta||_2 <= radius} ||g(mu(x + delta)) - g(mu(x))||_2``,
approximated by projected gradient ascent (the study solved it with an interior-point
method). Perturbed images stay valid pixels in [0, 1]."""

from __future__ import annotations

import copy

import torch

from .model import VAE

#: ascent steps; the step length is ``2.5 * radius / steps`` along the normalised gradient
STEPS = 50


def _norms(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1).view(-1, *([1] * (t.dim() - 1)))


def _project(x: torch.Tensor, delta: torch.Tensor, radius: float) -> torch.Tensor:
    """Into the L2 ball, then into valid pixels (which only shrinks every coordinate)."""
    delta = delta * (radius / _norms(delta).clamp_min(1e-12)).clamp(max=1)
    return (x + delta).clamp(0, 1) - x


def max_damage(
    model: VAE, x: torch.Tensor, radius: float, steps: int = STEPS, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x + delta, damage)`` per image: the most damaging perturbation found and its
    reconstruction distance ``||r(x + delta) - r(x)||_2``, both in float64.

    The ascent starts from a random perturbation of norm ``radius / 2`` (the distance has
    no gradient at ``delta = 0``) and keeps each image's best iterate.
    """
    net = copy.deepcopy(model).double().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    x = x.double()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        ref = net.reconstruct(x)
    delta = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    delta = _project(x, delta * (0.5 * radius / _norms(delta)), radius)
    best, best_damage = delta.clone(), torch.zeros(len(x), dtype=torch.float64)

    def damage_of(d: torch.Tensor) -> torch.Tensor:
        damage = (net.reconstruct(x + d) - ref).flatten(1).norm(dim=1)
        better = damage.detach() > best_damage
        best[better], best_damage[better] = d.detach()[better], damage.detach()[better]
        return damage

    step = 2.5 * radius / steps
    for _ in range(steps):
        delta.requires_grad_(True)
        (grad,) = torch.autograd.grad(damage_of(delta).sum(), delta)
        delta = _project(x, delta.detach() + step * grad / _norms(grad).clamp_min(1e-12),
                         radius)
    with torch.no_grad():
        damage_of(delta)
    return x + best, best_damage
