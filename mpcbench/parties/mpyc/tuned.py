"""``variant=tuned``: the project's products and truncation, and its local code
(:mod:`.speedups`).

The products are float64 limb-split BLAS products of the shares (:mod:`.modmat`, exact,
local); the degree-2t product is opened once, masked, and truncated by ``fw`` bits: the
mask comes from pseudorandom secret sharing (PRSS) with a known split into low and high
part, so the truncation needs no random bits, and it also brings the product back to
degree t (one round, no separate resharing; rounding within about T/2 units, T = PRSS
terms). With more PRSS terms (sets of m - t parties) than ``PRSS_MAX_TERMS`` or without
PRSS, MPyC's own resharing and ``np_trunc`` follow the limb product. Comparisons are
MPyC's ``np_sgn`` on ``l`` bits (``[a < 0]``): ReLU is ``x - [x < 0] x``, Sign
``1 - 2 [x < 0]``, max pooling pairwise maxima ``a + [a - b < 0] (b - a)`` of the windows'
strided slices, rows then columns.

Import only after the MPyC runtime is set up: importing ``mpyc`` parses ``sys.argv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from mpyc import asyncoro, thresha
from numpy.lib.stride_tricks import sliding_window_view

from ...case import Case
from ...models import layers as L
from . import modmat, speedups
from .fixedpoint import PRODUCT_HEADROOM
from .network import SecureNet, weight_matrix

#: outputs of a matrix product truncated at a time (bounds a party's memory)
_AFFINE_CHUNK = 1 << 15


@dataclass(frozen=True, eq=False)
class TunedAffine:
    """This party's shares of a Linear or Conv2d layer, as float64 limbs."""

    layer: L.Linear | L.Conv2d
    #: weight shares [in, out] (Linear) or [in*kh*kw, out] (Conv2d) as float64 limbs
    weight: np.ndarray
    #: bias shares [out] (object ints, scaled by 2**frac_bits)
    bias: np.ndarray
    limb_bits: int

    def shares(self) -> tuple[np.ndarray, np.ndarray]:
        """This party's field shares of weight ``round(W * 2**fw)`` and bias
        ``round(b * 2**f)``."""
        return modmat.from_limbs(self.weight, self.limb_bits), self.bias


class TunedNet(SecureNet):
    """The project's products and truncation (see the module docstring)."""

    variant = "tuned"
    products = "float64 limb-split BLAS (project)"

    def __init__(self, mpc: Any, case: Case) -> None:
        super().__init__(mpc, case)
        #: bits of a product before truncation
        self.product_bits = self.fmt.bit_length + self.fmt.weight_frac_bits + PRODUCT_HEADROOM

    @classmethod
    def install(cls) -> None:
        """Put the project's local code in place of MPyC's (:mod:`.speedups`)."""
        speedups.enable()

    @property
    def truncation(self) -> str:
        if self.fused:
            return "PRSS probabilistic, fused with degree reduction"
        return super().truncation

    def _encode(self, values: np.ndarray) -> Any:
        """Int64 values as they are (field elements)."""
        return self.stype.array(self.field.array(values.astype(object)), integral=False)

    def _input_values(self, x: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
        if x is None:
            return np.zeros(shape, dtype=np.int64)
        return self._fixed(np.asarray(x, dtype=np.float64), self.fmt.frac_bits)

    def _limb_layout(self, wmat_shape: tuple[int, ...]) -> tuple[int, int]:
        """Limb width and count of a weight matrix of ``wmat_shape``."""
        bits = modmat.limb_bits(wmat_shape[0])
        return bits, modmat.limb_count(self.field.modulus.bit_length(), bits)

    def _share_affine(self, lay: L.Linear | L.Conv2d, owner: int) -> TunedAffine:
        wmat = weight_matrix(lay)
        bits, count = self._limb_layout(wmat.shape)
        limbs = np.empty((count, wmat.size))
        pos = 0
        for part in self._shares(self._fixed(wmat, self.fmt.weight_frac_bits).ravel(), owner):
            limbs[:, pos : pos + part.size] = modmat.to_limbs(part, bits, count)
            pos += part.size
        (bias,) = self._shares(self._fixed(lay.bias, self.fmt.frac_bits), owner)
        return TunedAffine(lay, limbs.reshape(count, *wmat.shape), bias, bits)

    def _affine_of(self, lay: L.Linear | L.Conv2d, weight: np.ndarray,
                   bias: np.ndarray) -> TunedAffine:
        bits, count = self._limb_layout(weight.shape)
        return TunedAffine(lay, modmat.to_limbs(weight, bits, count), bias, bits)

    def _negative(self, a: Any) -> Any:
        """Shared bits ``[a < 0]``: MPyC's comparison on ``bit_length`` bits."""
        bits = self.fmt.bit_length
        return self._chunked(lambda b: self.mpc.np_sgn(b, l=bits, LT=True), True, a)

    def _relu(self, x: Any) -> Any:
        return x - self._negative(x) * x

    def _sign(self, x: Any) -> Any:
        return 1 - 2 * self._negative(x)

    def _maxpool(self, x: Any, op: L.MaxPool2d) -> Any:
        """Pairwise maxima of the windows' strided slices along rows, then along columns."""
        for axis in (2, 3):
            parts = L.windows(x, op, self._edge_pad, axis)
            while len(parts) > 1:
                odd = parts[-1:] if len(parts) % 2 else []
                pairs = zip(parts[0::2], parts[1::2], strict=False)
                parts = [a + self._negative(a - b) * (b - a) for a, b in pairs] + odd
            x = parts[0]
        return x

    def _affine(self, x: Any, params: TunedAffine) -> Any:
        """``x @ W + b`` for Linear, im2col convolution for Conv2d; one round."""
        lay = params.layer
        n = x.shape[0]
        count = params.weight.shape[0]
        if isinstance(lay, L.Linear):
            out_shape = (n, lay.weight.shape[0])

            def columns(limbs: np.ndarray) -> np.ndarray:
                return limbs.reshape(count, n, -1)

            def arrange(y: np.ndarray) -> np.ndarray:
                return y

        else:
            _, _, h, w = x.shape
            o, _, kh, kw = lay.weight.shape
            s, pad = lay.stride, lay.padding
            oh, ow = (h + 2 * pad - kh) // s + 1, (w + 2 * pad - kw) // s + 1
            out_shape = (n, o, oh, ow)

            def columns(limbs: np.ndarray) -> np.ndarray:
                if pad:
                    limbs = np.pad(limbs, [(0, 0)] * 3 + [(pad, pad)] * 2)
                win = sliding_window_view(limbs, (kh, kw), axis=(3, 4))[:, :, :, ::s, ::s]
                win = win[:, :, :, :oh, :ow].transpose(0, 1, 3, 4, 2, 5, 6)
                return win.reshape(count, n * oh * ow, -1)

            def arrange(y: np.ndarray) -> np.ndarray:
                return y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)

        mpc = self.mpc

        @asyncoro.mpc_coro
        async def affine(x):
            await mpc.returnType((self.stype.array, False, out_shape))
            xs = await mpc.gather(x)
            cols = columns(modmat.to_limbs(xs.value, params.limb_bits, count))
            step = max(1, _AFFINE_CHUNK // params.bias.size)
            parts = []
            for lo in range(0, cols.shape[1], step):  # row blocks, one after the other
                prod = modmat.matmul(cols[:, lo : lo + step], params.weight, params.limb_bits)
                parts.append((await self._truncate(prod, params.bias)).value)
            return self.field.array(arrange(np.concatenate(parts)), check=False)

        return affine(x)

    async def _truncate(self, prod: np.ndarray, bias: np.ndarray) -> Any:
        """Degree-2t product shares (scale 2**(f+fw)) -> degree-t shares at scale 2**f, plus bias.

        Fused (PRSS, at most :data:`PRSS_MAX_TERMS` PRSS terms T): opens
        ``c = prod + 2**(L-1) - (T-1) 2**(s-1) + r_lo + 2**s r_hi`` (plus a PRSS sharing
        of zero of degree 2t), where ``r_lo`` sums T pseudorandom values in [0, 2**s) and
        ``r_hi`` sums T values in [0, 2**(k+L-s)); the honest parties' own term hides the
        product statistically (k = security parameter). Then
        ``floor(c / 2**s) - r_hi - 2**(L-1-s)`` is the product divided by ``2**s`` with
        unbiased probabilistic rounding, within about T/2 units, in one round.
        Otherwise: MPyC's resharing, then its ``np_trunc`` (s random bits per element,
        within one unit).
        """
        mpc = self.mpc
        field = self.field
        s, big = self.fmt.weight_frac_bits, self.product_bits
        if not self.fused:
            y = await mpc._reshare(field.array(prod))
            y = await mpc.np_trunc(y, f=s, l=big)
            return field.array(y.value + bias)
        m, pid, t = len(mpc.parties), mpc.pid, mpc.threshold
        k = mpc.options.sec_param
        n = prod.size

        def prss(bound: int) -> np.ndarray:
            r = thresha.np_pseudorandom_share(field, m, pid, mpc.prfs(bound), mpc._prss_uci(), n)
            return r.value.reshape(prod.shape)

        r_lo = prss(1 << s)
        r_hi = prss(1 << (k + big - s))
        zero = thresha.np_pseudorandom_share_0(
            field, m, pid, mpc.prfs(field.order), mpc._prss_uci(), n
        ).value.reshape(prod.shape)
        offset = (1 << (big - 1)) - (self.prss_terms - 1) * (1 << (s - 1))
        masked = field.array(prod + zero + r_lo + (r_hi << s) + offset)
        c = await mpc.output(masked, threshold=2 * t)
        return field.array((c.value >> s) - (1 << (big - 1 - s)) - r_hi + bias)
