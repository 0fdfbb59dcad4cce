"""CrypTen evaluation of the layer graph: each node becomes a step of CrypTen tensor
operations (Beaver products for linear/conv, CrypTen's comparison for ReLU and Sign,
CrypTen's ``max_pool2d`` and ``avg_pool2d`` for pooling, or with ``tree`` the project's
pairwise maxima :func:`max_pool` for max pooling; local sums for residual additions)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import torch

from ...models import layers as L
from ..base import Unsupported

#: one node of the shared model: its encrypted input tensors in, an encrypted tensor out
Step = Callable[..., Any]


def _fixed_point(a: Any, precision_bits: int) -> torch.Tensor:
    """``a`` rounded to the fixed-point grid (CrypTen's encoder truncates, we round)."""
    scale = 2.0**precision_bits
    return torch.round(torch.as_tensor(a, dtype=torch.float64) * scale) / scale


def _edge_pad(crypten: ModuleType, x: Any, axis: int, pad: int) -> Any:
    """``x`` with its first and last row (``axis`` 2) or column (3) repeated ``pad`` times."""
    size = x.size(axis)
    first, last = x.narrow(axis, 0, 1), x.narrow(axis, size - 1, 1)
    return crypten.cat([first] * pad + [x] + [last] * pad, dim=axis)


def max_pool(crypten: ModuleType, x: Any, op: L.MaxPool2d) -> Any:
    """Max pooling as pairwise maxima ``max(a, b) = b + relu(a - b)`` of the windows'
    strided slices (:func:`mpcbench.models.layers.windows`), rows then columns.

    CrypTen's own ``max_pool2d`` also computes a one-hot argmax (for training), which
    costs extra comparisons and multiplications inference does not need.
    """
    for axis in (2, 3):
        parts = L.windows(x, op, lambda a, ax, p: _edge_pad(crypten, a, ax, p), axis)
        while len(parts) > 1:
            odd = parts[-1:] if len(parts) % 2 else []
            parts = [b + (a - b).relu() for a, b in zip(parts[0::2], parts[1::2],
                                                         strict=False)] + odd
        x = parts[0]
    return x


def plain_params(lay: L.Layer) -> dict[str, np.ndarray]:
    """The parameters of ``lay`` in the layout its step uses (none for an operation
    without)."""
    if isinstance(lay, L.Linear):
        return {"weight": lay.weight.T.copy(), "bias": lay.bias}
    if isinstance(lay, L.Conv2d):
        return {"weight": lay.weight, "bias": lay.bias.reshape(1, -1, 1, 1)}
    return {}


def share_params(crypten: ModuleType, lay: L.Layer, src: int, bits: int) -> dict[str, Any]:
    """The parameters of ``lay`` (:func:`plain_params`) encrypted from party ``src``."""
    return {name: crypten.cryptensor(_fixed_point(a, bits), src=src)
            for name, a in plain_params(lay).items()}


def layer_step(crypten: ModuleType, lay: L.Layer, params: dict[str, Any],
               tree: bool = False) -> Step:
    """The step that applies ``lay`` with its encrypted ``params`` (:func:`share_params`)
    to its input tensors.

    Max pooling is CrypTen's own ``max_pool2d``, or :func:`max_pool` with ``tree``.
    """
    if isinstance(lay, L.Linear):
        wt, b = params["weight"], params["bias"]
        return lambda x: x.matmul(wt).add(b)
    if isinstance(lay, L.Conv2d):
        w, b = params["weight"], params["bias"]
        stride, padding = lay.stride, lay.padding
        return lambda x: x.conv2d(w, stride=stride, padding=padding).add(b)
    if isinstance(lay, L.ReLU):
        return lambda x: x.relu()
    if isinstance(lay, L.Sign):
        return lambda x: x.ge(0) * 2 - 1
    if isinstance(lay, L.MaxPool2d):
        if tree:
            return lambda x: max_pool(crypten, x, lay)
        return lambda x: x.max_pool2d(lay.kernel, stride=lay.stride, padding=lay.padding)
    if isinstance(lay, L.AvgPool2d):
        return lambda x: x.avg_pool2d(lay.kernel, stride=lay.stride, padding=lay.padding)
    if isinstance(lay, L.GlobalAvgPool):
        return lambda x: x.mean((2, 3), keepdim=True)
    if isinstance(lay, L.Flatten):
        return lambda x: x.flatten(1)
    if isinstance(lay, L.Add):
        return lambda a, b: a + b
    raise Unsupported(f"crypten backend has no translation for {type(lay).__name__}")
