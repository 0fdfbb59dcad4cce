"""Secure evaluation of a layer graph on MPyC secure fixed-point arrays: what both
variants share.

Activations are MPyC ``SecFxp(l, f)`` arrays; weights are shared once as integers
``round(W * 2**fw)`` (``fw`` fractional bits). :class:`SecureNet` shares a model and its
inputs, walks the graph and opens the logits; residual sums, average pooling (sums of
the windows' slices times a public ``1 / k**2``) and reshaping are MPyC's own array
operations in both variants; a variant says how an affine layer is held and evaluated
and how it compares:

* :class:`.stock.StockNet` (``variant=stock``, the default): MPyC's own array operations,
  as an MPyC user writes them;
* :class:`.tuned.TunedNet` (``variant=tuned``): the project's products and truncation.

Both: MPyC holds shares as Python ints (~40 bytes each), so large batches run in groups
of images, and model sharing and comparisons in chunks, one after the other (memory
only: each chunk is the same MPyC operation on a slice).

Import only after the MPyC runtime is set up: importing ``mpyc`` parses ``sys.argv``.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
from mpyc import asyncoro

from ...case import Case
from ...models import layers as L
from . import speedups
from .fixedpoint import FixedPoint, field_prime, fused_truncation, prss_terms

#: integers secret-shared per input round when sharing a model or a batch
_SHARE_CHUNK = 1 << 16
#: secure comparisons per group of images evaluated at a time (bounds a party's memory)
_GROUP_COMPARISONS = 1 << 13
#: elements per secure comparison call (bounds a party's memory, see ``_chunked``)
_COMPARE_CHUNK = 1 << 13


@dataclass(frozen=True, eq=False)
class SharedModel:
    """A layer graph and, per node, the variant's shared parameters (``None``: none)."""

    graph: L.Graph
    params: list[Any]

    @cached_property
    def comparisons(self) -> int:
        """Secure comparisons one image needs (at least 1)."""
        return max(1, L.count_comparisons(self.graph))


def weight_matrix(lay: L.Linear | L.Conv2d) -> np.ndarray:
    """The layer's weight as the right operand of ``input_columns @ weight``."""
    return lay.weight.reshape(lay.weight.shape[0], -1).T


def weight_shape(lay: L.Linear | L.Conv2d) -> tuple[int, int]:
    """Shape of the layer's weight matrix as the backend holds it ([in, out])."""
    return weight_matrix(lay).shape


class SecureNet(abc.ABC):
    """Shares a model and its inputs and evaluates it with one MPyC runtime."""

    #: the value of the case option ``variant`` this evaluator runs
    variant: ClassVar[str]
    #: how matrix products are computed (recorded with the run)
    products: ClassVar[str]

    def __init__(self, mpc: Any, case: Case) -> None:
        """The evaluator of ``case`` on the runtime ``mpc`` (started from that case)."""
        self.mpc = mpc
        self.fmt = fmt = FixedPoint.of(case)
        #: PRSS sums one pseudorandom value per set of m - t parties
        self.prss_terms = prss_terms(case)
        #: truncate with PRSS masks (the field then has room for their sum)
        self.fused = fused_truncation(case)
        prime = field_prime(fmt, self.prss_terms if self.fused else 1, mpc.options.sec_param)
        self.stype = mpc.SecFxp(fmt.bit_length, fmt.frac_bits, p=prime)
        self.field = self.stype.field

    @classmethod
    def install(cls) -> None:
        """Put MPyC's own local code in place (a variant with its own installs that)."""
        speedups.disable()

    @property
    def truncation(self) -> str:
        """How products are truncated (recorded with the run)."""
        return "MPyC resharing, then np_trunc (random bits)"

    # -- what a variant defines -------------------------------------------------------

    @abc.abstractmethod
    def _encode(self, values: np.ndarray) -> Any:
        """The secure array of ``values`` (a sender's, or zeros elsewhere) as this variant
        encodes them, to be shared."""

    @abc.abstractmethod
    def _input_values(self, x: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
        """The values of a batch ``x`` (zeros of ``shape`` where it is ``None``) that
        :meth:`_encode` takes."""

    @abc.abstractmethod
    def _share_affine(self, lay: L.Linear | L.Conv2d, owner: int) -> Any:
        """This party's shares of a Linear or Conv2d layer of ``owner``."""

    @abc.abstractmethod
    def _affine_of(self, lay: L.Linear | L.Conv2d, weight: np.ndarray,
                   bias: np.ndarray) -> Any:
        """The shared layer of this party's field shares (ints) of weight and bias."""

    @abc.abstractmethod
    def _affine(self, x: Any, params: Any) -> Any:
        """``x @ W + b`` for Linear, a convolution for Conv2d."""

    @abc.abstractmethod
    def _relu(self, x: Any) -> Any:
        """``max(x, 0)`` elementwise."""

    @abc.abstractmethod
    def _sign(self, x: Any) -> Any:
        """``+1`` where ``x >= 0``, else ``-1``."""

    @abc.abstractmethod
    def _maxpool(self, x: Any, op: L.MaxPool2d) -> Any:
        """Max pooling (windows of :func:`mpcbench.models.layers.windows`)."""

    # -- sharing --------------------------------------------------------------------

    def _fixed(self, values: np.ndarray, frac: int) -> np.ndarray:
        """Round reals to int64 integers scaled by ``2**frac``."""
        return np.rint(values * 2.0**frac).astype(np.int64)

    def _shares(self, values: np.ndarray, sender: int) -> Iterator[np.ndarray]:
        """This party's shares of ``sender``'s values (flat), chunk by chunk.

        One input round per chunk keeps a few MB of Python ints alive instead of the
        whole model (a cnn has 1.2 M weights, ~40 bytes each as a Python int).
        """
        for lo in range(0, values.size, _SHARE_CHUNK):
            part = self.mpc.input(self._encode(values[lo : lo + _SHARE_CHUNK]),
                                  senders=sender)
            yield self.mpc.run(self.mpc.gather(part)).value

    def share_model(self, graph: L.Graph, owner: int) -> SharedModel:
        """Share every weight and bias from ``owner``."""
        return SharedModel(graph, [self._share_affine(lay, owner)
                                   if isinstance(lay, L.Affine) else None for lay in graph.ops])

    def model_shares(self, model: SharedModel) -> dict[str, np.ndarray]:
        """This party's field shares (object ints) of every weight matrix
        (:func:`weight_shape`) and bias, ``<layer index>.<weight|bias>`` (each variant's
        encoding, see its ``shares``)."""
        out = {}
        for i, params in enumerate(model.params):
            if params is not None:
                out[f"{i}.weight"], out[f"{i}.bias"] = params.shares()
        return out

    def from_shares(self, graph: L.Graph, arrays: dict[str, np.ndarray]) -> SharedModel:
        """The shared model of ``graph`` from this party's :meth:`model_shares` (no
        communication)."""
        return SharedModel(graph, [
            self._affine_of(lay, arrays[f"{i}.weight"], arrays[f"{i}.bias"])
            if isinstance(lay, L.Affine) else None for i, lay in enumerate(graph.ops)])

    def share_input(self, x: np.ndarray | None, shape: tuple[int, ...], owner: int) -> Any:
        """Share a batch from ``owner`` (in chunks of images); waits for this party's shares."""
        values = self._input_values(x, shape)
        rows = max(1, _SHARE_CHUNK // math.prod(shape[1:]))
        parts = []
        for lo in range(0, shape[0], rows):
            part = self.mpc.input(self._encode(values[lo : lo + rows]), senders=owner)
            self.mpc.run(self.mpc.gather(part))
            parts.append(part)
        return parts[0] if len(parts) == 1 else self.mpc.np_concatenate(parts)

    # -- evaluation -----------------------------------------------------------------

    def infer(self, model: SharedModel, x: Any) -> Any:
        """Evaluate ``model`` on the shared batch ``x``; waits for the shared logits.

        A batch whose comparisons exceed :data:`_GROUP_COMPARISONS` is evaluated in groups
        of images, one group after the other, to bound memory.
        """
        size = max(1, _GROUP_COMPARISONS // model.comparisons)
        outs = []
        for lo in range(0, x.shape[0], size):
            y = self._forward(model, x[lo : lo + size] if size < x.shape[0] else x)
            self.mpc.run(self.mpc.gather(y))
            outs.append(y)
        return outs[0] if len(outs) == 1 else self.mpc.np_concatenate(outs)

    def _forward(self, model: SharedModel, x: Any) -> Any:
        def step(i: int, node: L.Node, ins: list[Any]) -> Any:
            op, x = node.op, ins[0]
            if model.params[i] is not None:
                return self._affine(x, model.params[i])
            if isinstance(op, L.ReLU):
                return self._relu(x)
            if isinstance(op, L.Sign):
                return self._sign(x)
            if isinstance(op, L.MaxPool2d):
                return self._maxpool(x, op)
            if isinstance(op, L.AvgPool2d):
                for axis in (2, 3):
                    first, *rest = L.windows(x, op, self._zero_pad, axis)
                    x = sum(rest, start=first)
                return x * (1 / op.kernel**2)
            if isinstance(op, L.GlobalAvgPool):
                return x.sum(axis=(2, 3), keepdims=True) * (1 / (x.shape[2] * x.shape[3]))
            if isinstance(op, L.Flatten):
                return x.reshape(x.shape[0], -1)
            if isinstance(op, L.Add):
                return x + ins[1]
            raise L.UnsupportedLayer(f"mpyc backend cannot evaluate {type(op).__name__}")

        return model.graph.run(x, step)

    def _edge_pad(self, x: Any, axis: int, pad: int) -> Any:
        """``x`` with its first and last row (``axis`` 2) or column (3) repeated ``pad``
        times (max pooling's padding, :func:`mpcbench.models.layers.windows`)."""
        first = x[:, :, :1] if axis == 2 else x[:, :, :, :1]
        last = x[:, :, -1:] if axis == 2 else x[:, :, :, -1:]
        return np.concatenate([first] * pad + [x] + [last] * pad, axis=axis)

    def _zero_pad(self, x: Any, axis: int, pad: int) -> Any:
        """``x`` with ``pad`` zero rows (``axis`` 2) or columns (3) on both sides."""
        shape = list(x.shape)
        shape[axis] = pad
        zeros = self.stype.array(np.zeros(shape), integral=False)
        return np.concatenate([zeros, x, zeros], axis=axis)

    def _chunked(self, op: Callable[..., Any], integral: bool, *arrays: Any) -> Any:
        """``op(*arrays)`` (elementwise, same shapes) on flat slices of at most
        :data:`_COMPARE_CHUNK` elements, one after the other, to bound memory.

        MPyC's comparison holds about ``bit_length`` Python ints per element in each of
        several temporaries (~4 kB per element).
        """
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

    def reveal(self, y: Any, receiver: int) -> np.ndarray | None:
        """Open shared logits to ``receiver`` only."""
        return self.mpc.run(self.mpc.output(y, receivers=[receiver]))
