"""Backend-neutral description of a trained model: a flat list of layer records.

Every MPC backend evaluates this one description instead of converting the torch module
itself, so the same weights and layer order reach CrypTen and MPyC without ONNX and
without a hand port per network. :func:`describe` walks a torch module;
:func:`evaluate` runs a description in plain torch (the reference the backends match).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from ..errors import InputError


class UnsupportedLayer(InputError, TypeError):
    """The exporter has no translation for a torch layer type."""


@dataclass(frozen=True, eq=False)
class Linear:
    """y = x @ weight.T + bias; weight is [out, in]."""

    weight: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True, eq=False)
class Conv2d:
    """2-D convolution; weight is [out, in, kh, kw]."""

    weight: np.ndarray
    bias: np.ndarray
    stride: int = 1
    padding: int = 0


@dataclass(frozen=True)
class ReLU:
    """max(x, 0)."""


@dataclass(frozen=True)
class Sign:
    """+1 where x >= 0, else -1."""


@dataclass(frozen=True)
class MaxPool2d:
    """Non-overlapping max pooling with a square ``kernel``."""

    kernel: int


@dataclass(frozen=True)
class Flatten:
    """[N, ...] -> [N, prod(...)]."""


Layer = Linear | Conv2d | ReLU | Sign | MaxPool2d | Flatten


def _single(v: int | tuple[int, ...], what: str, mod: nn.Module) -> int:
    vals = (v,) if isinstance(v, int) else tuple(v)
    if len(set(vals)) != 1:
        raise UnsupportedLayer(f"{type(mod).__name__} with non-square {what} {v}")
    return int(vals[0])


def _numpy(t: torch.Tensor | None, shape: int) -> np.ndarray:
    if t is None:
        return np.zeros(shape, dtype=np.float64)
    return t.detach().cpu().double().numpy().copy()


def _translate(mod: nn.Module) -> list[Layer]:
    # Local import: bnn imports this package's siblings, keep the walk cycle-free.
    from .bnn import Sign as TorchSign

    if isinstance(mod, nn.Sequential):
        return [lay for child in mod for lay in _translate(child)]
    if isinstance(mod, nn.Linear):
        return [Linear(_numpy(mod.weight, 0), _numpy(mod.bias, mod.out_features))]
    if isinstance(mod, nn.Conv2d):
        if mod.groups != 1 or _single(mod.dilation, "dilation", mod) != 1:
            raise UnsupportedLayer("Conv2d with groups or dilation")
        return [
            Conv2d(
                _numpy(mod.weight, 0),
                _numpy(mod.bias, mod.out_channels),
                _single(mod.stride, "stride", mod),
                _single(mod.padding, "padding", mod),
            )
        ]
    if isinstance(mod, nn.ReLU):
        return [ReLU()]
    if isinstance(mod, TorchSign):
        return [Sign()]
    if isinstance(mod, nn.MaxPool2d):
        k = _single(mod.kernel_size, "kernel", mod)
        if _single(mod.stride if mod.stride is not None else k, "stride", mod) != k or mod.padding:
            raise UnsupportedLayer("MaxPool2d with overlap or padding")
        return [MaxPool2d(k)]
    if isinstance(mod, nn.Flatten):
        return [Flatten()]
    if isinstance(mod, nn.Dropout | nn.Identity):
        return []  # identity at inference
    raise UnsupportedLayer(f"cannot export layer type {type(mod).__name__}")


def describe(model: nn.Module, pool_before_relu: bool = True) -> list[Layer]:
    """Flatten ``model`` into layer records (dropout removed).

    With ``pool_before_relu``, ``ReLU, MaxPool2d`` becomes ``MaxPool2d, ReLU``: the same
    function (max is monotone), with a quarter of the secure comparisons for ReLU.
    """
    layers = _translate(model)
    if pool_before_relu:
        _pool_before_relu(layers)
    return layers


def _pool_before_relu(layers: list[Layer]) -> list[str]:
    """Swap every ``ReLU, MaxPool2d`` pair in place; one note per swap."""
    notes = []
    for i in range(len(layers) - 1):
        if isinstance(layers[i], ReLU) and isinstance(layers[i + 1], MaxPool2d):
            layers[i], layers[i + 1] = layers[i + 1], layers[i]
            notes.append(f"layers {i}-{i + 1}: ReLU, MaxPool2d({layers[i].kernel}) -> "
                         f"MaxPool2d({layers[i].kernel}), ReLU (same function, max is monotone)")
    return notes


def rewrites(model: nn.Module) -> list[str]:
    """What :func:`describe` changes in ``model``'s layer order (recorded with a run)."""
    return _pool_before_relu(_translate(model))


def map_params(layers: list[Layer], fn: Callable[[np.ndarray], np.ndarray]) -> list[Layer]:
    """The same structure with ``fn`` applied to every weight and bias."""
    return [
        replace(lay, weight=fn(lay.weight), bias=fn(lay.bias))
        if isinstance(lay, Linear | Conv2d) else lay
        for lay in layers
    ]


def blank(layers: list[Layer]) -> list[Layer]:
    """The same structure with every weight and bias zeroed (what non-owners hold)."""
    return map_params(layers, np.zeros_like)


def evaluate(layers: list[Layer], x: torch.Tensor, dtype: torch.dtype = torch.float64
             ) -> torch.Tensor:
    """Run a description in plain torch (float64 unless told otherwise)."""
    import torch.nn.functional as F

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).to(dtype)

    y = x.to(dtype)
    for lay in layers:
        if isinstance(lay, Linear):
            y = F.linear(y, t(lay.weight), t(lay.bias))
        elif isinstance(lay, Conv2d):
            y = F.conv2d(y, t(lay.weight), t(lay.bias), lay.stride, lay.padding)
        elif isinstance(lay, ReLU):
            y = y.clamp_min(0)
        elif isinstance(lay, Sign):
            y = torch.where(y >= 0, 1.0, -1.0).to(dtype)
        elif isinstance(lay, MaxPool2d):
            y = F.max_pool2d(y, lay.kernel)
        elif isinstance(lay, Flatten):
            y = y.flatten(1)
    return y


def count_comparisons(layers: list[Layer], input_shape: tuple[int, ...]) -> int:
    """Secure comparisons one image needs (ReLU/Sign elements plus max-pool pairs)."""
    y = torch.zeros((1, *input_shape), dtype=torch.float64)
    total = 0
    for lay in layers:
        if isinstance(lay, ReLU | Sign):
            total += y.numel()
        elif isinstance(lay, MaxPool2d):
            total += y.numel() - y.numel() // (lay.kernel**2)
        y = evaluate([lay], y)
    return total
