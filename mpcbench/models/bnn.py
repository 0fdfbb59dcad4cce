"""``bnn``: the ``mlp`` shape with sign (binarised) activations."""

from __future__ import annotations

import torch
from torch import nn

from . import mlp

DEFAULT_BATCH = 64


class _SignSTE(torch.autograd.Function):
    """sign(x) in {-1, +1} (sign(0) = +1) with a clipped straight-through gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


class Sign(nn.Module):
    """Binarising activation: +1 where x >= 0, else -1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _SignSTE.apply(x)


def build() -> nn.Sequential:
    """784 -> 28 -> 28 -> 28 -> 28 -> 10 with :class:`Sign` activations."""
    return mlp.build(activation=Sign)
