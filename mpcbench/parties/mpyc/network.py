"""Secure evaluation of a layer description on MPyC secure fixed-point arrays.

Activations are MPyC ``SecFxp(l, f)`` arrays; weights are shared once as integers
``round(W * 2**fw)`` (``fw`` fractional bits). Two variants:

``stock`` (default): MPyC's own array operations, as an MPyC user writes them (see
MPyC's demo ``np_cnnmnist.py``). Weights are an integral ``SecFxp`` array (MPyC's own
encoding), Linear is ``x @ W``, Conv2d is im2col by slicing, ``np.stack``, ``transpose``
and ``reshape`` of the secure array, then ``cols @ W``: MPyC's matrix product (local
product, its shift of the integral operand, its resharing), then MPyC's ``np_trunc`` by
``fw`` bits (``f`` random bits per element; rounding within one unit of ``2**-f``).
ReLU is ``(x >= 0) * x``, Sign ``2 * (x >= 0) - 1``, max pooling ``np.maximum`` of
strided slices, row pairs then column pairs (MPyC's ``np_maximum``: ``a + (a < b) (b -
a)``), every comparison MPyC's ``np_sgn`` on ``l`` bits.

``tuned``: the project's code. The products are float64 limb-split BLAS products of the
shares (:mod:`.modmat`, exact, local); the degree-2t product is opened once, masked,
and truncated by ``fw`` bits: the mask comes from pseudorandom secret sharing (PRSS)
with a known split into low and high part, so the truncation needs no random bits,
and it also brings the product back to degree t (one round, no separate resharing;
rounding within about T/2 units, T = PRSS terms). With more PRSS terms (sets of m - t
parties) than ``PRSS_MAX_TERMS`` or without PRSS, MPyC's own resharing and
``np_trunc`` follow the limb product. Comparisons are the same ``np_sgn`` calls.

Both: MPyC holds shares as Python ints (~40 bytes each), so large batches run in groups
of images, and model sharing and comparisons in chunks, one after the other (memory
only: each chunk is the same MPyC operation on a slice).

Import only after the MPyC runtime is set up: importing ``mpyc`` parses ``sys.argv``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from mpyc import asyncoro, thresha
from numpy.lib.stride_tricks import sliding_window_view

from ...models import layers as L
from . import modmat
from .fixedpoint import PRODUCT_HEADROOM as _PRODUCT_HEADROOM
from .fixedpoint import PRSS_MAX_TERMS, FixedPoint, field_prime

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


@dataclass(frozen=True, eq=False)
class StockAffine:
    """A Linear or Conv2d layer as MPyC secure arrays (``variant=stock``)."""

    layer: L.Linear | L.Conv2d
    #: integral ``SecFxp`` array of ``round(W * 2**fw)``, [in, out] or [in*kh*kw, out]
    weight: object
    #: ``SecFxp`` array of the bias, [out] (Linear) or [1, out, 1, 1] (Conv2d)
    bias: object


SharedModel = list[tuple[L.Layer, SharedAffine | StockAffine | None]]


def _unsupported(lay: object) -> L.UnsupportedLayer:
    return L.UnsupportedLayer(f"mpyc backend cannot evaluate layer type {type(lay).__name__}")


def _unparametrised(lay: L.Layer) -> L.Layer:
    """``lay``, a layer without parameters this backend evaluates (else the error)."""
    if not isinstance(lay, L.ReLU | L.Sign | L.MaxPool2d | L.Flatten):
        raise _unsupported(lay)
    return lay


def _weight_matrix(lay: L.Linear | L.Conv2d) -> np.ndarray:
    """The layer's weight as the right operand of ``input_columns @ weight``."""
    return lay.weight.reshape(lay.weight.shape[0], -1).T


def weight_shape(lay: L.Linear | L.Conv2d) -> tuple[int, int]:
    """Shape of the layer's weight matrix as the backend holds it ([in, out])."""
    return _weight_matrix(lay).shape


class SecureNet:
    """Shares a model and its inputs and evaluates it with one MPyC runtime."""

    def __init__(self, mpc, fmt: FixedPoint, tuned: bool = False):
        self.mpc = mpc
        self.fmt = fmt
        #: the project's products and truncation (else MPyC's own operations only)
        self.tuned = tuned
        m = len(mpc.parties)
        #: PRSS sums one pseudorandom value per set of m - t parties
        self.prss_terms = math.comb(m, mpc.threshold)
        #: truncate with PRSS masks (see :meth:`_truncate`) or with MPyC's ``np_trunc``
        self.fused = (tuned and not mpc.options.no_prss
                      and self.prss_terms <= PRSS_MAX_TERMS)
        self.product_bits = fmt.bit_length + fmt.weight_frac_bits + _PRODUCT_HEADROOM
        k = mpc.options.sec_param
        terms = self.prss_terms if self.fused else 1
        prime = field_prime(fmt, terms, k)
        self.stype = mpc.SecFxp(fmt.bit_length, fmt.frac_bits, p=prime)
        self.field = self.stype.field

    # -- sharing --------------------------------------------------------------------

    def _fixed(self, values: np.ndarray, frac: int) -> np.ndarray:
        """Round reals to int64 integers scaled by ``2**frac``."""
        return np.rint(values * 2.0**frac).astype(np.int64)

    def _input(self, values: np.ndarray, sender: int):
        """Secret-share ``sender``'s values (zeros elsewhere): int64 values as they are
        (field elements, tuned), float64 values as MPyC encodes them (``SecFxp.array``:
        rounded to ``f`` fractional bits), integral int64 values with ``integral`` arrays
        (MPyC's integer encoding, ``n * 2**f``) in the stock variant."""
        if not self.tuned:
            arr = self.stype.array(values, integral=bool(values.dtype.kind == "i"))
        else:
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

    def _share_stock(self, lay: L.Linear | L.Conv2d, owner: int) -> StockAffine:
        """Weights as an integral ``SecFxp`` array of ``round(W * 2**fw)``, bias as ``SecFxp``."""
        wmat = _weight_matrix(lay)
        ints = self._fixed(wmat, self.fmt.weight_frac_bits).ravel()
        values = np.concatenate(list(self._shares(ints, owner)))
        (bias,) = self._shares(np.asarray(lay.bias, dtype=np.float64), owner)
        return self._stock_affine(lay, values.reshape(wmat.shape), bias)

    def _stock_affine(self, lay: L.Linear | L.Conv2d, weight: np.ndarray,
                      bias: np.ndarray) -> StockAffine:
        """The stock layer of this party's field shares (ints) of weight and bias."""
        weight = self.stype.array(self.field.array(weight, check=False), integral=True)
        shape = (-1,) if isinstance(lay, L.Linear) else (1, -1, 1, 1)
        bias = self.stype.array(self.field.array(bias, check=False), integral=False)
        return StockAffine(lay, weight, bias.reshape(shape))

    def _limb_layout(self, wmat_shape: tuple[int, ...]) -> tuple[int, int]:
        """Limb width and count of a tuned layer's weight matrix of ``wmat_shape``."""
        bits = modmat.limb_bits(wmat_shape[0])
        return bits, modmat.limb_count(self.field.modulus.bit_length(), bits)

    def share_model(self, layers: list[L.Layer], owner: int) -> SharedModel:
        """Share every weight and bias from ``owner``."""
        model: SharedModel = []
        for lay in layers:
            if not isinstance(lay, L.Linear | L.Conv2d):
                model.append((_unparametrised(lay), None))
                continue
            if not self.tuned:
                model.append((lay, self._share_stock(lay, owner)))
                continue
            wmat = _weight_matrix(lay)
            bits, count = self._limb_layout(wmat.shape)
            limbs = np.empty((count, wmat.size))
            pos = 0
            for part in self._shares(self._fixed(wmat, self.fmt.weight_frac_bits).ravel(), owner):
                limbs[:, pos : pos + part.size] = modmat.to_limbs(part, bits, count)
                pos += part.size
            (bias,) = self._shares(self._fixed(lay.bias, self.fmt.frac_bits), owner)
            model.append((lay, SharedAffine(lay, limbs.reshape(count, *wmat.shape), bias, bits)))
        return model

    def model_shares(self, model: SharedModel) -> dict[str, np.ndarray]:
        """This party's field shares (object ints) of every weight matrix
        (:func:`weight_shape`) and bias, ``<layer index>.<weight|bias>``: in the stock
        variant ``round(W * 2**(fw + f))`` (MPyC's integral encoding), tuned
        ``round(W * 2**fw)``; the bias ``round(b * 2**f)``."""
        out = {}
        for i, (_, p) in enumerate(model):
            if isinstance(p, StockAffine):
                weight, bias = p.weight.share.value, p.bias.share.value.reshape(-1)
            elif isinstance(p, SharedAffine):
                weight, bias = modmat.from_limbs(p.weight, p.limb_bits), p.bias
            else:
                continue
            out[f"{i}.weight"], out[f"{i}.bias"] = weight, bias
        return out

    def from_shares(self, layers: list[L.Layer], arrays: dict[str, np.ndarray]) -> SharedModel:
        """The shared model of ``layers`` from this party's :meth:`model_shares` (no
        communication)."""
        model: SharedModel = []
        for i, lay in enumerate(layers):
            if not isinstance(lay, L.Linear | L.Conv2d):
                model.append((_unparametrised(lay), None))
                continue
            weight, bias = arrays[f"{i}.weight"], arrays[f"{i}.bias"]
            if not self.tuned:
                model.append((lay, self._stock_affine(lay, weight, bias)))
                continue
            bits, count = self._limb_layout(weight.shape)
            model.append((lay, SharedAffine(lay, modmat.to_limbs(weight, bits, count), bias, bits)))
        return model

    def share_input(self, x: torch.Tensor | None, shape: tuple[int, ...], owner: int):
        """Share a batch from ``owner`` (in chunks of images); waits for this party's shares."""
        if x is None:
            values = np.zeros(shape, dtype=np.int64 if self.tuned else np.float64)
        elif self.tuned:
            values = self._fixed(x.detach().cpu().double().numpy(), self.fmt.frac_bits)
        else:
            values = x.detach().cpu().double().numpy()
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
        return (self._forward_tuned if self.tuned else self._forward_stock)(model, x)

    def _forward_stock(self, model: SharedModel, x):
        """MPyC's own array operations (see the module docstring)."""
        for lay, params in model:
            if params is not None:
                x = self._affine_stock(x, params)
            elif isinstance(lay, L.ReLU):
                x = self._chunked(lambda a: a >= 0, True, x) * x
            elif isinstance(lay, L.Sign):
                x = 2 * self._chunked(lambda a: a >= 0, True, x) - 1
            elif isinstance(lay, L.MaxPool2d):
                x = self._maxpool_stock(x, lay.kernel)
            elif isinstance(lay, L.Flatten):
                x = x.reshape(x.shape[0], -1)
            else:
                raise _unsupported(lay)
        return x

    def _chunked(self, op, integral: bool, *arrays):
        """``op(*arrays)`` (elementwise, same shapes) on flat slices of at most
        :data:`_COMPARE_CHUNK` elements, one after the other, to bound memory."""
        a = arrays[0]
        if a.size <= _COMPARE_CHUNK:
            return op(*arrays)
        mpc = self.mpc

        @asyncoro.mpc_coro
        async def chunked(*arrays):
            await mpc.returnType((type(a), integral, a.shape))
            flats = [b.reshape(-1) for b in arrays]
            parts = []
            for lo in range(0, a.size, _COMPARE_CHUNK):
                part = op(*(f[lo : lo + _COMPARE_CHUNK] for f in flats))
                parts.append((await mpc.gather(part)).value)
            return self.field.array(np.concatenate(parts).reshape(a.shape), check=False)

        return chunked(*arrays)

    def _maxpool_stock(self, x, k: int):
        """``np.maximum`` of the ``k`` strided slices along rows, then along columns."""
        for axis in (2, 3):
            n = x.shape[axis] // k
            key = [slice(None)] * 4
            best = None
            for i in range(k):
                key[axis] = slice(i, i + n * k, k)
                part = x[tuple(key)]
                best = part if best is None else self._chunked(
                    np.maximum, best.integral and part.integral, best, part)
            x = best
        return x

    def _affine_stock(self, x, p: StockAffine):
        """``x @ W`` (Linear) or im2col ``cols @ W`` (Conv2d), MPyC's ``np_trunc`` by ``fw``
        bits, plus the bias."""
        lay, mpc = p.layer, self.mpc
        if isinstance(lay, L.Linear):
            y = x @ p.weight
        else:
            o, _, kh, kw = lay.weight.shape
            s, pad = lay.stride, lay.padding
            if pad:
                x = self._zero_pad(x, pad)
            n, c, h, w = x.shape
            oh, ow = (h - kh) // s + 1, (w - kw) // s + 1
            patches = [x[:, :, i : i + s * (oh - 1) + 1 : s, j : j + s * (ow - 1) + 1 : s]
                       for i in range(kh) for j in range(kw)]
            cols = np.stack(patches, axis=-1)  # [n, c, oh, ow, kh*kw]
            cols = cols.transpose(0, 2, 3, 1, 4).reshape(n * oh * ow, c * kh * kw)
            y = (cols @ p.weight).reshape(n, oh, ow, o).transpose(0, 3, 1, 2)
        y = mpc.np_trunc(y, f=self.fmt.weight_frac_bits,
                         l=self.fmt.bit_length + _PRODUCT_HEADROOM)
        return y + p.bias

    def _zero_pad(self, x, pad: int):
        """``x`` with ``pad`` zero rows and columns on every side (MPyC's concatenation)."""
        n, c, h, w = x.shape
        zeros = self.stype.array(np.zeros((n, c, pad, w)), integral=False)
        x = np.concatenate([zeros, x, zeros], axis=2)
        zeros = self.stype.array(np.zeros((n, c, h + 2 * pad, pad)), integral=False)
        return np.concatenate([zeros, x, zeros], axis=3)

    def _forward_tuned(self, model: SharedModel, x):
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
