"""``variant=stock`` (the default): MPyC's own array operations, as an MPyC user writes
them (see MPyC's demo ``np_cnnmnist.py``), with MPyC's own local code.

Weights are an integral ``SecFxp`` array (MPyC's own encoding, ``round(W * 2**fw)``),
Linear is ``x @ W``, Conv2d is im2col by slicing, ``np.stack``, ``transpose`` and
``reshape`` of the secure array, then ``cols @ W``: MPyC's matrix product (local product,
its shift of the integral operand, its resharing), then MPyC's ``np_trunc`` by ``fw``
bits (``f`` random bits per element; rounding within one unit of ``2**-f``). ReLU is
``(x >= 0) * x``, Sign ``2 * (x >= 0) - 1``, max pooling ``np.maximum`` of the
windows' strided slices, rows then columns (MPyC's ``np_maximum``: ``a + (a < b) (b - a)``),
every comparison MPyC's ``np_sgn`` on ``l`` bits.

Import only after the MPyC runtime is set up: importing ``mpyc`` parses ``sys.argv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...models import layers as L
from .fixedpoint import PRODUCT_HEADROOM
from .network import SecureNet, weight_matrix


@dataclass(frozen=True, eq=False)
class StockAffine:
    """A Linear or Conv2d layer as MPyC secure arrays."""

    layer: L.Linear | L.Conv2d
    #: integral ``SecFxp`` array of ``round(W * 2**fw)``, [in, out] or [in*kh*kw, out]
    weight: Any
    #: ``SecFxp`` array of the bias, [out] (Linear) or [1, out, 1, 1] (Conv2d)
    bias: Any

    def shares(self) -> tuple[np.ndarray, np.ndarray]:
        """This party's field shares of weight ``round(W * 2**(fw + f))`` (MPyC's integral
        encoding) and bias ``round(b * 2**f)`` (flat)."""
        return self.weight.share.value, self.bias.share.value.reshape(-1)


class StockNet(SecureNet):
    """MPyC's own secure array operations (see the module docstring)."""

    variant = "stock"
    products = "MPyC np_matmul (object arrays)"

    def _encode(self, values: np.ndarray) -> Any:
        """Float64 values as MPyC encodes them (``SecFxp.array``: rounded to ``f``
        fractional bits), integral int64 values with ``integral`` arrays (MPyC's integer
        encoding, ``n * 2**f``)."""
        return self.stype.array(values, integral=bool(values.dtype.kind == "i"))

    def _input_values(self, x: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
        if x is None:
            return np.zeros(shape, dtype=np.float64)
        return np.asarray(x, dtype=np.float64)

    def _share_affine(self, lay: L.Linear | L.Conv2d, owner: int) -> StockAffine:
        """Weights as an integral ``SecFxp`` array of ``round(W * 2**fw)``, bias as ``SecFxp``."""
        wmat = weight_matrix(lay)
        ints = self._fixed(wmat, self.fmt.weight_frac_bits).ravel()
        values = np.concatenate(list(self._shares(ints, owner)))
        (bias,) = self._shares(np.asarray(lay.bias, dtype=np.float64), owner)
        return self._affine_of(lay, values.reshape(wmat.shape), bias)

    def _affine_of(self, lay: L.Linear | L.Conv2d, weight: np.ndarray,
                   bias: np.ndarray) -> StockAffine:
        weight = self.stype.array(self.field.array(weight, check=False), integral=True)
        shape = (-1,) if isinstance(lay, L.Linear) else (1, -1, 1, 1)
        bias = self.stype.array(self.field.array(bias, check=False), integral=False)
        return StockAffine(lay, weight, bias.reshape(shape))

    def _nonnegative(self, x: Any) -> Any:
        """Shared bits ``[x >= 0]`` (MPyC's comparison)."""
        return self._chunked(lambda a: a >= 0, True, x)

    def _relu(self, x: Any) -> Any:
        return self._nonnegative(x) * x

    def _sign(self, x: Any) -> Any:
        return 2 * self._nonnegative(x) - 1

    def _maxpool(self, x: Any, op: L.MaxPool2d) -> Any:
        """``np.maximum`` of the windows' strided slices along rows, then along columns."""
        for axis in (2, 3):
            best, *rest = L.windows(x, op, self._edge_pad, axis)
            for part in rest:
                best = self._chunked(np.maximum, best.integral and part.integral, best, part)
            x = best
        return x

    def _affine(self, x: Any, params: StockAffine) -> Any:
        """``x @ W`` (Linear) or im2col ``cols @ W`` (Conv2d), MPyC's ``np_trunc`` by ``fw``
        bits, plus the bias."""
        lay = params.layer
        if isinstance(lay, L.Linear):
            y = x @ params.weight
        else:
            o, _, kh, kw = lay.weight.shape
            s, pad = lay.stride, lay.padding
            if pad:
                x = self._zero_pad(self._zero_pad(x, 2, pad), 3, pad)
            n, c, h, w = x.shape
            oh, ow = (h - kh) // s + 1, (w - kw) // s + 1
            patches = [x[:, :, i : i + s * (oh - 1) + 1 : s, j : j + s * (ow - 1) + 1 : s]
                       for i in range(kh) for j in range(kw)]
            cols = np.stack(patches, axis=-1)  # [n, c, oh, ow, kh*kw]
            cols = cols.transpose(0, 2, 3, 1, 4).reshape(n * oh * ow, c * kh * kw)
            y = (cols @ params.weight).reshape(n, oh, ow, o).transpose(0, 3, 1, 2)
        y = self.mpc.np_trunc(y, f=self.fmt.weight_frac_bits,
                              l=self.fmt.bit_length + PRODUCT_HEADROOM)
        return y + params.bias
