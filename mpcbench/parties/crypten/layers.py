"""CrypTen evaluation of the layer description: each record becomes a step of CrypTen
tensor operations (Beaver products for linear/conv, CrypTen's comparison for ReLU and
Sign, CrypTen's ``max_pool2d`` for max pooling, or with ``tree`` the project's tree of
pairwise maxima :func:`max_pool`)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import torch

from ...models import layers as L
from ..base import Unsupported

#: one layer of the shared model: encrypted tensor in, encrypted tensor out
Step = Callable[[Any], Any]


def _fixed_point(a: Any, precision_bits: int) -> torch.Tensor:
    """``a`` rounded to the fixed-point grid (CrypTen's encoder truncates, we round)."""
    scale = 2.0**precision_bits
    return torch.round(torch.as_tensor(a, dtype=torch.float64) * scale) / scale


def max_pool(crypten: ModuleType, x: Any, k: int) -> Any:
    """Non-overlapping ``k``x``k`` max pooling as a tree of ``max(a, b) = b + relu(a - b)``.

    CrypTen's own ``max_pool2d`` also computes a one-hot argmax (for training), which
    costs extra comparisons and multiplications inference does not need.
    """
    n, c, h, w = x.size()
    ho, wo = h // k, w // k
    if (h, w) != (ho * k, wo * k):
        x = x[:, :, : ho * k, : wo * k]
    win = x.reshape(n, c, ho, k, wo, k).permute(3, 5, 0, 1, 2, 4).reshape(k * k, n, c, ho, wo)
    while win.size(0) > 1:
        half = win.size(0) // 2
        a, b = win[:half], win[half : 2 * half]
        best = b + (a - b).relu()
        win = crypten.cat([best, win[2 * half :]]) if win.size(0) % 2 else best
    return win[0]


def plain_params(lay: L.Layer) -> dict[str, np.ndarray]:
    """The parameters of ``lay`` in the layout its step uses (none for a layer without)."""
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
    """The step that applies ``lay`` with its encrypted ``params`` (:func:`share_params`).

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
        k = lay.kernel
        if tree:
            return lambda x: max_pool(crypten, x, k)
        return lambda x: x.max_pool2d(k)
    if isinstance(lay, L.Flatten):
        return lambda x: x.flatten(1)
    raise Unsupported(f"crypten backend has no translation for {type(lay).__name__}")
