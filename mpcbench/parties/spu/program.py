"""A layer graph as the jax function SPU compiles, and SPU's compilation of it.

Every operation is the jax an SPU user writes for it (``x @ w.T + b``,
``lax.conv_general_dilated``, ``jnp.maximum``, ``lax.reduce_window`` for pooling), so SPU
evaluates the graph with its own kernels. Weights and biases are inputs of the program,
secret like the images; a program is compiled for one layout of input slices (one per
data owner of a batch): a partial last batch has its own.

Import only inside a party: it imports jax.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import spu
import spu.utils.frontend as frontend
from jax import lax

from ...models import layers as L

#: the name of the inference program's output (the logits of the batch)
OUTPUT = "y"
#: the prefix of the names of the rows cut out of the logits (``cut0``, ``cut1``, ...)
CUT = "cut"


def param_names(graph: L.Graph) -> list[str]:
    """The names of the program's parameter inputs: ``<node>.weight``, ``<node>.bias``."""
    return [f"{i}.{name}" for i, op in enumerate(graph.ops) if isinstance(op, L.Affine)
            for name in ("weight", "bias")]


def params(graph: L.Graph) -> list[np.ndarray]:
    """Every weight and bias of ``graph`` as float32, in :func:`param_names` order."""
    return [np.asarray(a, dtype=np.float32) for op in graph.ops if isinstance(op, L.Affine)
            for a in (op.weight, op.bias)]


def _pool(x, op: L.MaxPool2d | L.AvgPool2d):
    window = (1, 1, op.kernel, op.kernel)
    strides = (1, 1, op.stride, op.stride)
    pad = ((0, 0), (0, 0), (op.padding, op.padding), (op.padding, op.padding))
    if isinstance(op, L.MaxPool2d):  # the edge repeated gives the maxima of -inf padding
        x = jnp.pad(x, pad, mode="edge") if op.padding else x
        return lax.reduce_window(x, -jnp.inf, lax.max, window, strides, "VALID")
    summed = lax.reduce_window(x, 0.0, lax.add, window, strides, pad)
    return summed / op.kernel**2


def _step(op: L.Layer, ins: list, p: list):
    x = ins[0]
    if isinstance(op, L.Linear):
        return x @ p[0].T + p[1]
    if isinstance(op, L.Conv2d):
        pad = [(op.padding, op.padding)] * 2
        y = lax.conv_general_dilated(x, p[0], (op.stride, op.stride), pad,
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return y + p[1].reshape(1, -1, 1, 1)
    if isinstance(op, L.ReLU):
        return jnp.maximum(x, 0.0)
    if isinstance(op, L.Sign):
        return jnp.where(x >= 0, 1.0, -1.0)
    if isinstance(op, L.MaxPool2d | L.AvgPool2d):
        return _pool(x, op)
    if isinstance(op, L.GlobalAvgPool):
        return jnp.mean(x, axis=(2, 3), keepdims=True)
    if isinstance(op, L.Flatten):
        return x.reshape(x.shape[0], -1)
    if isinstance(op, L.Add):
        return x + ins[1]
    raise L.UnsupportedLayer(f"the spu backend cannot evaluate {L.describe_op(op)}")


def forward(graph: L.Graph):
    """The jax function ``(params, parts) -> logits`` of ``graph``: ``parts`` are a
    batch's slices in image order, joined first."""

    def fn(weights: list, parts: list):
        it = iter(weights)
        p = [[next(it), next(it)] if isinstance(op, L.Affine) else [] for op in graph.ops]
        x = parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=0)
        return graph.run(x, lambda i, node, ins: _step(node.op, ins, p[i]))

    return fn


@dataclass(frozen=True)
class Program:
    """A compiled program with the names of its inputs and outputs and the shape of
    its (first) output."""

    executable: spu.Executable
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    shape: tuple[int, ...]


def _compile(fn, args: list, names: list[str], outputs: list[str]) -> Program:
    secret = [spu.Visibility.VIS_SECRET] * len(names)
    exe, out = frontend.compile(frontend.Kind.JAX, fn, args, {}, names, secret,
                                lambda _outs: outputs)
    first = out[0] if isinstance(out, tuple | list) else out
    return Program(exe, tuple(names), tuple(outputs), tuple(first.shape))


class Programs:
    """The compiled programs of a party, by graph and layout of input slices, and the
    seconds spent compiling them."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._cache: dict[tuple, Program] = {}

    @property
    def count(self) -> int:
        """How many programs were compiled."""
        return len(self._cache)

    def of(self, graph: L.Graph, parts: Sequence[tuple[int, ...]]) -> Program:
        """The program of ``graph`` on a batch whose slices have shapes ``parts``
        (compiled once)."""
        key = ("infer", graph, *map(tuple, parts))
        if key not in self._cache:
            start = time.perf_counter()
            names = [*param_names(graph), *(f"x{k}" for k in range(len(parts)))]
            inputs = [np.zeros(s, dtype=np.float32) for s in parts]
            self._cache[key] = _compile(forward(graph), [params(graph), inputs], names,
                                        [OUTPUT])
            self.seconds += time.perf_counter() - start
        return self._cache[key]

    def rows(self, shape: tuple[int, ...], spans: Sequence[tuple[int, int]]) -> Program:
        """The program that cuts rows ``spans`` (``lo, hi``) out of logits of ``shape``:
        one output per span (a local operation)."""
        key = ("rows", tuple(shape), *map(tuple, spans))
        if key not in self._cache:
            start = time.perf_counter()
            fn = lambda y: tuple(y[lo:hi] for lo, hi in spans)  # noqa: E731
            cuts = [f"{CUT}{k}" for k in range(len(spans))]
            self._cache[key] = _compile(fn, [np.zeros(shape, dtype=np.float32)], [OUTPUT],
                                        cuts)
            self.seconds += time.perf_counter() - start
        return self._cache[key]
