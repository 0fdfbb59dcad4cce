"""Batch norm folded into the affine layer it follows, for every importer
(:mod:`.importer` from torch, :mod:`.onnx` from an ONNX file): at inference, batch norm
with running statistics is an affine map per channel, so the convolution or linear layer
before it absorbs it exactly (up to float rounding)."""

from __future__ import annotations

import numpy as np

from . import layers as L


def fold(op: L.Linear | L.Conv2d, mean: np.ndarray, var: np.ndarray, eps: float,
         scale: np.ndarray | None = None, shift: np.ndarray | None = None
         ) -> L.Linear | L.Conv2d:
    """``op`` followed by batch norm of running ``mean`` and ``var`` (and learnt ``scale``
    and ``shift``; default: none, 1 and 0) as one affine layer."""
    scale = np.ones_like(mean) if scale is None else scale
    shift = np.zeros_like(mean) if shift is None else shift
    scale = scale / np.sqrt(var + eps)
    weight = op.weight * scale.reshape(-1, *([1] * (op.weight.ndim - 1)))
    bias = (op.bias - mean) * scale + shift
    return L.Linear(weight, bias) if isinstance(op, L.Linear) else L.Conv2d(
        weight, bias, op.stride, op.padding)
