"""The layer graph (:mod:`.layers`) evaluated in plain torch: the reference every backend
matches, and the plaintext backend's computation."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .layers import (
    Add,
    AvgPool2d,
    Conv2d,
    Flatten,
    GlobalAvgPool,
    Graph,
    Layer,
    Linear,
    MaxPool2d,
    ReLU,
    Sign,
    UnsupportedLayer,
)


def apply(op: Layer, inputs: list[torch.Tensor]) -> torch.Tensor:
    """One operation in plain torch, in the inputs' dtype."""
    x = inputs[0]

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).to(x.dtype)

    if isinstance(op, Linear):
        return F.linear(x, t(op.weight), t(op.bias))
    if isinstance(op, Conv2d):
        return F.conv2d(x, t(op.weight), t(op.bias), op.stride, op.padding)
    if isinstance(op, ReLU):
        return x.clamp_min(0)
    if isinstance(op, Sign):
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)
    if isinstance(op, MaxPool2d):
        return F.max_pool2d(x, op.kernel, op.stride, op.padding)
    if isinstance(op, AvgPool2d):
        return F.avg_pool2d(x, op.kernel, op.stride, op.padding)
    if isinstance(op, GlobalAvgPool):
        return x.mean((2, 3), keepdim=True)
    if isinstance(op, Flatten):
        return x.flatten(1)
    if isinstance(op, Add):
        return x + inputs[1]
    raise UnsupportedLayer(f"no plain evaluation of {type(op).__name__}")


def evaluate(graph: Graph, x: torch.Tensor, dtype: torch.dtype = torch.float64
             ) -> torch.Tensor:
    """Run a graph in plain torch (float64 unless told otherwise)."""
    return graph.run(x.to(dtype), lambda _i, node, ins: apply(node.op, ins))
