"""Backend-neutral description of a network: a graph of layer records.

A :class:`Graph` holds its nodes in topological order; a node applies one operation
record (:class:`Linear`, :class:`Conv2d`, :class:`ReLU`, ...) to the outputs of earlier
nodes or to the graph's input (:data:`INPUT`), and the last node's output is the
network's. Every backend evaluates this one graph (:meth:`Graph.run` walks it), so the
same weights and operations reach every framework without a hand port per network;
:mod:`.importer` builds it from a torch module, :func:`evaluate` runs it in plain torch
(the reference the backends match).

Pooling takes a kernel, a stride and a padding (windows may overlap); average pooling
divides by the whole window (zero padding included, torch's default), max pooling pads
with ``-inf`` (:func:`windows` gives backends an equivalent padding they can compute).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, get_args

import numpy as np

from ..errors import InputError

#: the index :attr:`Node.inputs` names the graph's input by
INPUT = -1


class UnsupportedLayer(InputError, TypeError):
    """An operation the graph, or a backend, cannot evaluate."""


@dataclass(frozen=True, eq=False)
class Linear:
    """y = x @ weight.T + bias; weight is [out, in]."""

    weight: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True, eq=False)
class Conv2d:
    """2-D convolution (groups 1, no dilation); weight is [out, in, kh, kw]."""

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
class _Pool:
    """``kernel`` x ``kernel`` windows ``stride`` apart (default: ``kernel``, no overlap),
    the input padded by ``padding`` on every side."""

    kernel: int
    stride: int = 0
    padding: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "stride", self.stride or self.kernel)


@dataclass(frozen=True)
class MaxPool2d(_Pool):
    """The max over each window (padding is ``-inf``)."""


@dataclass(frozen=True)
class AvgPool2d(_Pool):
    """The mean over each window, zero padding included in its count."""


@dataclass(frozen=True)
class GlobalAvgPool:
    """Mean over height and width: [N, C, H, W] -> [N, C, 1, 1]."""


@dataclass(frozen=True)
class Flatten:
    """[N, ...] -> [N, prod(...)]."""


@dataclass(frozen=True)
class Add:
    """The sum of its two inputs (a residual connection)."""


Layer = Linear | Conv2d | ReLU | Sign | MaxPool2d | AvgPool2d | GlobalAvgPool | Flatten | Add
#: every operation a graph may hold
OPERATIONS: tuple[type, ...] = get_args(Layer)
#: operations with parameters (weights shared by the model owner)
Affine = Linear | Conv2d
#: operations that take the outputs of two nodes
BINARY = (Add,)


def describe_op(op: Layer) -> str:
    """``Linear(784->128)``, ``Conv2d(1->5, 2x2, s2)``, ``MaxPool2d(3, s2)``, ``ReLU`` ..."""
    if isinstance(op, Linear):
        out, inp = op.weight.shape
        return f"Linear({inp}->{out})"
    if isinstance(op, Conv2d):
        o, c, kh, kw = op.weight.shape
        extra = (f", s{op.stride}" if op.stride != 1 else "") + (
            f", p{op.padding}" if op.padding else "")
        return f"Conv2d({c}->{o}, {kh}x{kw}{extra})"
    if isinstance(op, MaxPool2d | AvgPool2d):
        extra = (f", s{op.stride}" if op.stride != op.kernel else "") + (
            f", p{op.padding}" if op.padding else "")
        return f"{type(op).__name__}({op.kernel}{extra})"
    return type(op).__name__


@dataclass(frozen=True)
class Node:
    """One operation of a graph and the nodes it reads (:data:`INPUT`: the graph's input)."""

    #: where it comes from (the torch module path or ONNX node name), for messages
    name: str
    op: Layer
    inputs: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Graph:
    """A network as nodes in topological order; the last node's output is the logits."""

    nodes: tuple[Node, ...]
    #: shape of one input image, e.g. ``(1, 28, 28)``
    input_shape: tuple[int, ...]
    #: what building the graph changed, e.g. batch norm folded into a convolution
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for i, node in enumerate(self.nodes):
            arity = 2 if isinstance(node.op, BINARY) else 1
            if len(node.inputs) != arity or not all(INPUT <= j < i for j in node.inputs):
                raise UnsupportedLayer(f"node {i} ({node.name}) must read {arity} earlier "
                                       f"node(s), reads {node.inputs}")

    @classmethod
    def chain(cls, ops: Sequence[Layer], input_shape: tuple[int, ...],
              notes: tuple[str, ...] = ()) -> Graph:
        """The graph applying ``ops`` one after the other."""
        return cls(tuple(Node(f"{i}", op, (i - 1,)) for i, op in enumerate(ops)),
                   tuple(input_shape), notes)

    @property
    def ops(self) -> list[Layer]:
        """The operation of every node, in order (a node's index is its op's index)."""
        return [node.op for node in self.nodes]

    def with_ops(self, ops: Sequence[Layer]) -> Graph:
        """The same graph with node ``i`` applying ``ops[i]``."""
        return replace(self, nodes=tuple(replace(n, op=op)
                                         for n, op in zip(self.nodes, ops, strict=True)))

    def run(self, x: Any, step: Callable[[int, Node, list[Any]], Any]) -> Any:
        """The last node's output, each node's computed by ``step(index, node, inputs)``
        from ``x`` (any tensor type); a value is dropped after its last reader."""
        last = {INPUT: len(self.nodes)}
        for i, node in enumerate(self.nodes):
            for j in node.inputs:
                last[j] = i
        values: dict[int, Any] = {INPUT: x}
        for i, node in enumerate(self.nodes):
            values[i] = step(i, node, [values[j] for j in node.inputs])
            for j in set(node.inputs):
                if last.get(j) == i and j != INPUT:
                    del values[j]
        return values[len(self.nodes) - 1]

    def readers(self, index: int) -> list[int]:
        """The nodes that read node ``index``'s output."""
        return [i for i, n in enumerate(self.nodes) if index in n.inputs]


def checked(graph: Graph) -> Graph:
    """``graph``, or :class:`UnsupportedLayer` if it does not run on images of its input
    shape (an importer's last check)."""
    try:
        shapes(graph)
    except ValueError as exc:
        raise UnsupportedLayer(f"the imported graph does not run on images of shape "
                               f"{graph.input_shape}: {exc}") from exc
    return graph


def map_params(graph: Graph, fn: Callable[[np.ndarray], np.ndarray]) -> Graph:
    """The same graph with ``fn`` applied to every weight and bias."""
    return graph.with_ops([replace(op, weight=fn(op.weight), bias=fn(op.bias))
                           if isinstance(op, Affine) else op for op in graph.ops])


def blank(graph: Graph) -> Graph:
    """The same graph with every weight and bias zeroed (what non-owners hold)."""
    return map_params(graph, np.zeros_like)


def out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a window of ``kernel`` moved by ``stride`` over ``size`` padded by
    ``padding`` on each side (windows that do not fit are dropped, as torch does)."""
    return (size + 2 * padding - kernel) // stride + 1


def windows(x: Any, op: MaxPool2d | AvgPool2d, pad: Callable[[Any, int, int], Any],
            axis: int) -> list[Any]:
    """The ``op.kernel`` strided slices of ``x`` along ``axis`` (2: rows, 3: columns)
    that a separable pooling combines: ``x`` padded by ``pad(x, axis, op.padding)``, then
    ``x[..., i : i + stride * (out - 1) + 1 : stride, ...]`` for ``i < kernel``. Max
    pooling gives the same maxima with its edge repeated as with ``-inf`` padding (torch
    keeps padding below half a window, so every window holds a real element)."""
    if op.padding:
        x = pad(x, axis, op.padding)
    n = out_size(x.shape[axis], op.kernel, op.stride, 0)
    key = [slice(None)] * len(x.shape)
    parts = []
    for i in range(op.kernel):
        key[axis] = slice(i, i + op.stride * (n - 1) + 1, op.stride)
        parts.append(x[tuple(key)])
    return parts


def _pooled(shape: tuple[int, ...], kernel: tuple[int, int], stride: int, padding: int,
            channels: int | None = None) -> tuple[int, ...]:
    """The shape one image of ``shape`` (C, H, W) takes through windows of ``kernel``
    (height, width)."""
    if len(shape) != 3:
        raise ValueError(f"expected an image of 3 dimensions (C, H, W), got {shape}")
    c, h, w = shape
    oh, ow = (out_size(n, k, stride, padding) for n, k in zip((h, w), kernel, strict=True))
    if oh < 1 or ow < 1:
        raise ValueError(f"a {kernel[0]}x{kernel[1]} window does not fit {h}x{w} padded "
                         f"by {padding}")
    return (c if channels is None else channels, oh, ow)


def out_shape(op: Layer, ins: list[tuple[int, ...]]) -> tuple[int, ...]:
    """The shape of ``op``'s output for one image, its inputs' of ``ins`` (``ValueError``
    where torch would refuse them)."""
    x = ins[0]
    if isinstance(op, Linear):
        out, inp = op.weight.shape
        if not x or x[-1] != inp:
            raise ValueError(f"{describe_op(op)} cannot take inputs of shape {x}")
        return (*x[:-1], out)
    if isinstance(op, Conv2d):
        o, c, kh, kw = op.weight.shape
        if len(x) != 3 or x[0] != c:
            raise ValueError(f"{describe_op(op)} cannot take inputs of shape {x}")
        return _pooled(x, (kh, kw), op.stride, op.padding, o)
    if isinstance(op, MaxPool2d | AvgPool2d):
        if op.padding > op.kernel // 2:
            raise ValueError(f"{describe_op(op)}: padding must be at most half the kernel")
        return _pooled(x, (op.kernel, op.kernel), op.stride, op.padding)
    if isinstance(op, GlobalAvgPool):
        return (*_pooled(x, (1, 1), 1, 0)[:1], 1, 1)
    if isinstance(op, Flatten):
        return (math.prod(x),)
    if isinstance(op, Add):
        return tuple(np.broadcast_shapes(x, ins[1]))
    if isinstance(op, ReLU | Sign):
        return x
    raise UnsupportedLayer(f"no shape of {type(op).__name__}")


def shapes(graph: Graph) -> list[tuple[int, ...]]:
    """The shape of every node's output for one image (``ValueError`` if the graph does
    not run on images of its input shape)."""
    out: list[tuple[int, ...]] = []

    def step(_i: int, node: Node, ins: list[tuple[int, ...]]) -> tuple[int, ...]:
        out.append(out_shape(node.op, ins))
        return out[-1]

    graph.run(tuple(graph.input_shape), step)
    return out


def count_comparisons(graph: Graph) -> int:
    """Secure comparisons one image needs: ReLU/Sign elements, and per max-pool output
    ``kernel - 1`` along rows plus ``kernel - 1`` along columns (separable pooling)."""
    sizes = shapes(graph)
    total = 0
    for i, node in enumerate(graph.nodes):
        op = node.op
        if isinstance(op, ReLU | Sign):
            total += int(np.prod(sizes[i]))
        elif isinstance(op, MaxPool2d):
            c, _, w = sizes[node.inputs[0]] if node.inputs[0] != INPUT else graph.input_shape
            oh, ow = sizes[i][1:]
            total += c * (op.kernel - 1) * (oh * (w + 2 * op.padding) + oh * ow)
    return total
