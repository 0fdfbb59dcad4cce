"""Secure evaluation of a layer description on MPyC secure fixed-point arrays.

Activations are MPyC ``SecFxp(l, f)`` arrays; weights are shared once as integers with
``fw`` fractional bits and kept as this party's float64 limbs (:mod:`.modmat`).

* Linear and Conv2d (im2col) are one matrix product of shares each. The degree-2t
  product is opened once, masked, and truncated by ``fw`` bits: the mask comes from
  pseudorandom secret sharing (PRSS) with a known split into low and high part, so the
  truncation needs no random bits, and it also brings the product back to degree t
  (one round, no separate resharing). With more PRSS terms (sets of m - t parties)
  than ``PRSS_MAX_TERMS`` or without PRSS, MPyC's own resharing and ``np_trunc`` are
  used instead.
* ReLU is ``x - [x < 0] * x``, Sign is ``1 - 2 [x < 0]`` and max-pooling folds pairwise
  ``a + [a < b] (b - a)``, all with MPyC's vectorised comparison ``np_sgn`` on ``l`` bits.
* Memory: MPyC holds shares as Python ints (~40 bytes each), so large batches run in
  groups of images, and model sharing, truncations and comparisons in chunks, one after
  the other.

Import only after the MPyC runtime is set up: importing ``mpyc`` parses ``sys.argv``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from mpyc import asyncoro, finfields, thresha
from numpy.lib.stride_tricks import sliding_window_view

from ...models import layers as L
from . import modmat
from .fixedpoint import PRSS_MAX_TERMS, FixedPoint

#: headroom (bits) of a product over ``bit_length + weight_frac_bits`` before truncation
_PRODUCT_HEADROOM = 2
#: integers secret-shared per input round when sharing a model or a batch
_SHARE_CHUNK = 1 << 16
#: secure comparisons per group of images evaluated at a time (bounds a party's memory)
_GROUP_COMPARISONS = 1 << 13
#: outputs of a matrix product truncated at a time (bounds a party's memory)
_AFFINE_CHUNK = 1 << 15
#: elements per secure comparison call (bounds a party's memory, see ``_negative``)
_COMPARE_CHUNK = 1 << 13


@dataclass(frozen=True, eq=False)
class SharedAffine:
    """This party's shares of a Linear or Conv2d layer."""

    layer: L.Linear | L.Conv2d
    #: weight shares [in, out] (Linear) or [in*kh*kw, out] (Conv2d) as float64 limbs
    weight: np.ndarray
    #: bias shares [out] (object ints, scaled by 2**frac_bits)
    bias: np.ndarray
    limb_bits: int


SharedModel = list[tuple[L.Layer, SharedAffine | None]]


def _unsupported(lay: object) -> L.UnsupportedLayer:
    return L.UnsupportedLayer(f"mpyc backend cannot evaluate layer type {type(lay).__name__}")


def _weight_matrix(lay: L.Linear | L.Conv2d) -> np.ndarray:
    """The layer's weight as the right operand of ``input_columns @ weight``."""
    return lay.weight.reshape(lay.weight.shape[0], -1).T


class SecureNet:
    """Shares a model and its inputs and evaluates it with one MPyC runtime."""

    def __init__(self, mpc, fmt: FixedPoint):
        self.mpc = mpc
        self.fmt = fmt
        m = len(mpc.parties)
        #: PRSS sums one pseudorandom value per set of m - t parties
        self.prss_terms = math.comb(m, mpc.threshold)
        #: truncate with PRSS masks (see :meth:`_truncate`) or with MPyC's ``np_trunc``
        self.fused = not mpc.options.no_prss and self.prss_terms <= PRSS_MAX_TERMS
        self.product_bits = fmt.bit_length + fmt.weight_frac_bits + _PRODUCT_HEADROOM
        k = mpc.options.sec_param
        terms = self.prss_terms if self.fused else 1
        prime, *_ = finfields.find_prime_root(self.product_bits + k + terms.bit_length() + 2, n=2)
        self.stype = mpc.SecFxp(fmt.bit_length, fmt.frac_bits, p=prime)
        self.field = self.stype.field

    # -- sharing --------------------------------------------------------------------

    def _fixed(self, values: np.ndarray, frac: int) -> np.ndarray:
        """Round reals to int64 integers scaled by ``2**frac``."""
        return np.rint(values * 2.0**frac).astype(np.int64)

    def _input(self, values: np.ndarray, sender: int):
        """Secret-share integers held by ``sender`` (zeros elsewhere)."""
        arr = self.stype.array(self.field.array(values.astype(object)), integral=False)
        return self.mpc.input(arr, senders=sender)

    def _shares(self, values: np.ndarray, sender: int):
        """This party's shares of ``sender``'s integers (flat), chunk by chunk.

        One input round per chunk keeps a few MB of Python ints alive instead of the
        whole model (a cnn has 1.2 M weights, ~40 bytes each as a Python int).
        """
        for lo in range(0, values.size, _SHARE_CHUNK):
            part = self._input(values[lo : lo + _SHARE_CHUNK], sender)
            yield self.mpc.run(self.mpc.gather(part)).value

    def share_model(self, layers: list[L.Layer], owner: int) -> SharedModel:
        """Share every weight and bias from ``owner``."""
        model: SharedModel = []
        for lay in layers:
            if not isinstance(lay, L.Linear | L.Conv2d):
                if not isinstance(lay, L.ReLU | L.Sign | L.MaxPool2d | L.Flatten):
                    raise _unsupported(lay)
                model.append((lay, None))
                continue
            wmat = _weight_matrix(lay)
            bits = modmat.limb_bits(wmat.shape[0])
            count = modmat.limb_count(self.field.modulus.bit_length(), bits)
            limbs = np.empty((count, wmat.size))
            pos = 0
            for part in self._shares(self._fixed(wmat, self.fmt.weight_frac_bits).ravel(), owner):
                limbs[:, pos : pos + part.size] = modmat.to_limbs(part, bits, count)
                pos += part.size
            (bias,) = self._shares(self._fixed(lay.bias, self.fmt.frac_bits), owner)
            model.append((lay, SharedAffine(lay, limbs.reshape(count, *wmat.shape), bias, bits)))
        return model

    def share_input(self, x: torch.Tensor | None, shape: tuple[int, ...], owner: int):
        """Share a batch from ``owner`` (in chunks of images); waits for this party's shares."""
        if x is None:
            values = np.zeros(shape, dtype=np.int64)
        else:
            values = self._fixed(x.detach().cpu().double().numpy(), self.fmt.frac_bits)
        rows = max(1, _SHARE_CHUNK // math.prod(shape[1:]))
        parts = []
        for lo in range(0, shape[0], rows):
            part = self._input(values[lo : lo + rows], owner)
            self.mpc.run(self.mpc.gather(part))
            parts.append(part)
        return parts[0] if len(parts) == 1 else self.mpc.np_concatenate(parts)

    # -- evaluation -----------------------------------------------------------------

    def infer(self, model: SharedModel, x):
        """Evaluate ``model`` on the shared batch ``x``; waits for the shared logits.

        A batch whose comparisons exceed :data:`_GROUP_COMPARISONS` is evaluated in groups
        of images, one group after the other, to bound memory.
        """
        layers = [lay for lay, _ in model]
        per_image = max(1, L.count_comparisons(layers, tuple(x.shape[1:])))
        size = max(1, _GROUP_COMPARISONS // per_image)
        outs = []
        for lo in range(0, x.shape[0], size):
            y = self._forward(model, x[lo : lo + size] if size < x.shape[0] else x)
            self.mpc.run(self.mpc.gather(y))
            outs.append(y)
        return outs[0] if len(outs) == 1 else self.mpc.np_concatenate(outs)

    def _forward(self, model: SharedModel, x):
        for lay, params in model:
            if params is not None:
                x = self._affine(x, params)
            elif isinstance(lay, L.ReLU):
                x = x - self._negative(x) * x
            elif isinstance(lay, L.Sign):
                x = 1 - 2 * self._negative(x)
            elif isinstance(lay, L.MaxPool2d):
                x = self._maxpool(x, lay.kernel)
            elif isinstance(lay, L.Flatten):
                x = x.reshape(x.shape[0], -1)
            else:
                raise _unsupported(lay)
        return x

    def reveal(self, y, receiver: int) -> np.ndarray | None:
        """Open shared logits to ``receiver`` only."""
        return self.mpc.run(self.mpc.output(y, receivers=[receiver]))

    def _negative(self, a):
        """Shared bits ``[a < 0]``: MPyC's comparison on ``bit_length`` bits.

        MPyC's comparison holds about ``bit_length`` Python ints per element in each of
        several temporaries (~4 kB per element); a large array is compared in chunks,
        one after the other, to bound memory.
        """
        mpc, bits = self.mpc, self.fmt.bit_length
        if a.size <= _COMPARE_CHUNK:
            return mpc.np_sgn(a, l=bits, LT=True)

        @asyncoro.mpc_coro
        async def chunked(a):
            await mpc.returnType((type(a), True, a.shape))
            flat = a.reshape(-1)
            parts = []
            for lo in range(0, a.size, _COMPARE_CHUNK):
                lt = mpc.np_sgn(flat[lo : lo + _COMPARE_CHUNK], l=bits, LT=True)
                parts.append((await mpc.gather(lt)).value)
            return self.field.array(np.concatenate(parts).reshape(a.shape), check=False)

        return chunked(a)

    def _maxpool(self, x, k: int):
        """Non-overlapping k x k max pooling by pairwise maxima along rows, then columns."""
        for axis in (2, 3):
            n = x.shape[axis] // k
            parts = []
            for i in range(k):
                key = [slice(None)] * 4
                key[axis] = slice(i, i + n * k, k)
                parts.append(x[tuple(key)])
            while len(parts) > 1:
                odd = parts[-1:] if len(parts) % 2 else []
                pairs = zip(parts[0::2], parts[1::2], strict=False)
                parts = [a + self._negative(a - b) * (b - a) for a, b in pairs] + odd
            x = parts[0]
        return x

    def _affine(self, x, p: SharedAffine):
        """``x @ W + b`` for Linear, im2col convolution for Conv2d; one round."""
        lay = p.layer
        n = x.shape[0]
        count = p.weight.shape[0]
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
            cols = columns(modmat.to_limbs(xs.value, p.limb_bits, count))
            step = max(1, _AFFINE_CHUNK // p.bias.size)
            parts = []
            for lo in range(0, cols.shape[1], step):  # row blocks, one after the other
                prod = modmat.matmul(cols[:, lo : lo + step], p.weight, p.limb_bits)
                parts.append((await self._truncate(prod, p.bias)).value)
            return self.field.array(arrange(np.concatenate(parts)), check=False)

        return affine(x)

    async def _truncate(self, prod: np.ndarray, bias: np.ndarray):
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
