"""Import a torch module into a layer graph (:class:`.layers.Graph`): every network the
backends run, the project's own and a user's, comes through here.

The module is traced with ``torch.fx`` (its ``forward`` as written, residual additions
included); each traced call becomes a node. Batch norm is folded into the convolution or
linear layer it follows (exact up to float rounding; the graph's notes say which),
dropout and identities vanish (inference), and anything else is refused with the node,
the operation and what is supported (:class:`.layers.UnsupportedLayer`, exit 2).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn

from . import layers as L
from .folding import fold

#: what a traced network may consist of (said when something else is found)
SUPPORTED = ("Conv2d (groups 1, no dilation, square stride and padding), Linear, ReLU, "
             "MaxPool2d / AvgPool2d (square kernel, stride, padding; no ceil mode), "
             "AdaptiveAvgPool2d(1), Flatten / flatten(x, 1) / view(N, -1), BatchNorm "
             "after a Conv2d or Linear, Dropout, Identity, the addition of two tensors")


def _where(node: fx.Node) -> str:
    """A traced call's name: the module's path in the model, else torch.fx's name."""
    return str(node.target) if node.op == "call_module" else node.name


def _fail(node: fx.Node, what: str) -> L.UnsupportedLayer:
    return L.UnsupportedLayer(f"cannot import node {_where(node)} ({what}); "
                              f"supported: {SUPPORTED}")


def _square(value: int | tuple[int, ...], node: fx.Node, what: str) -> int:
    values = (value,) if isinstance(value, int) else tuple(value)
    if len(set(values)) != 1:
        raise _fail(node, f"non-square {what} {value}")
    return int(values[0])


def _numpy(t: torch.Tensor | None, size: int) -> np.ndarray:
    if t is None:
        return np.zeros(size, dtype=np.float64)
    return t.detach().cpu().double().numpy().copy()


def _pool(mod: nn.MaxPool2d | nn.AvgPool2d, node: fx.Node) -> L.MaxPool2d | L.AvgPool2d:
    if mod.ceil_mode:
        raise _fail(node, f"{type(mod).__name__} with ceil_mode")
    kernel = _square(mod.kernel_size, node, "kernel")
    stride = _square(mod.stride if mod.stride is not None else kernel, node, "stride")
    padding = _square(mod.padding, node, "padding")
    if isinstance(mod, nn.MaxPool2d):
        if _square(mod.dilation, node, "dilation") != 1:
            raise _fail(node, "MaxPool2d with dilation")
        return L.MaxPool2d(kernel, stride, padding)
    if not mod.count_include_pad or mod.divisor_override is not None:
        raise _fail(node, "AvgPool2d without count_include_pad or with a divisor")
    return L.AvgPool2d(kernel, stride, padding)


def _module_op(mod: nn.Module, node: fx.Node) -> L.Layer | None:
    """The record of a leaf module (``None``: the identity at inference)."""
    from .bnn import Sign  # the binarised MLP's activation (a leaf of the trace)

    if isinstance(mod, nn.Linear):
        return L.Linear(_numpy(mod.weight, 0), _numpy(mod.bias, mod.out_features))
    if isinstance(mod, nn.Conv2d):
        if mod.groups != 1 or _square(mod.dilation, node, "dilation") != 1:
            raise _fail(node, "Conv2d with groups or dilation")
        if isinstance(mod.padding, str) or mod.padding_mode != "zeros":
            raise _fail(node, f"Conv2d with padding {mod.padding!r} ({mod.padding_mode})")
        return L.Conv2d(_numpy(mod.weight, 0), _numpy(mod.bias, mod.out_channels),
                        _square(mod.stride, node, "stride"),
                        _square(mod.padding, node, "padding"))
    if isinstance(mod, nn.ReLU):
        return L.ReLU()
    if isinstance(mod, Sign):
        return L.Sign()
    if isinstance(mod, nn.MaxPool2d | nn.AvgPool2d):
        return _pool(mod, node)
    if isinstance(mod, nn.AdaptiveAvgPool2d):
        if _square(mod.output_size, node, "output size") != 1:
            raise _fail(node, f"AdaptiveAvgPool2d to {mod.output_size}")
        return L.GlobalAvgPool()
    if isinstance(mod, nn.Flatten):
        if mod.start_dim != 1 or mod.end_dim != -1:
            raise _fail(node, "Flatten of other dimensions than all but the first")
        return L.Flatten()
    if isinstance(mod, nn.Dropout | nn.Identity):
        return None
    raise _fail(node, f"module {type(mod).__name__}")


def _fold(op: L.Linear | L.Conv2d, bn: nn.BatchNorm1d | nn.BatchNorm2d
          ) -> L.Linear | L.Conv2d:
    """``op`` followed by ``bn`` (its running statistics) as one affine layer."""
    n = bn.num_features
    return fold(op, _numpy(bn.running_mean, 0), _numpy(bn.running_var, 0), bn.eps,
                _numpy(bn.weight, n) if bn.affine else None,
                _numpy(bn.bias, n) if bn.affine else None)


_ADDS = (operator.add, torch.add)
_RELUS = (F.relu, torch.relu)
_FLATTENS = (torch.flatten,)


class _Tracer(fx.Tracer):
    """torch.fx's tracer, keeping the binarised MLP's ``Sign`` whole."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        from .bnn import Sign

        return isinstance(m, Sign) or super().is_leaf_module(m, qualname)


def _flatten_args(node: fx.Node) -> bool:
    """Whether a call flattens all but the first dimension (``flatten(x, 1)``,
    ``x.view(x.size(0), -1)``, ``x.reshape(N, -1)``)."""
    args = node.args[1:]
    if node.target in ("view", "reshape"):
        return len(args) == 2 and args[1] == -1
    return tuple(args) in ((1,), (1, -1)) and not node.kwargs


class _Builder:
    """Turns the traced calls into graph nodes, one at a time."""

    def __init__(self, root: nn.Module) -> None:
        self.root = root
        self.nodes: list[L.Node] = []
        self.notes: list[str] = []
        #: fx node -> index of the graph node holding its value (or INPUT)
        self.index: dict[fx.Node, int] = {}

    def tensor(self, arg: Any, node: fx.Node) -> int:
        if not isinstance(arg, fx.Node) or arg not in self.index:
            raise _fail(node, f"argument {arg!r} that is not a traced tensor")
        return self.index[arg]

    def add(self, node: fx.Node, op: L.Layer | None, reads: list[Any]) -> None:
        inputs = tuple(self.tensor(a, node) for a in reads)
        if op is None:  # an identity: the node's value is its input's
            self.index[node] = inputs[0]
            return
        self.index[node] = len(self.nodes)
        self.nodes.append(L.Node(_where(node), op, inputs))

    def batch_norm(self, node: fx.Node, bn: nn.BatchNorm1d | nn.BatchNorm2d) -> None:
        j = self.tensor(node.args[0], node)
        source = node.args[0]
        if j == L.INPUT or not isinstance(self.nodes[j].op, L.Affine) \
                or len(source.users) != 1:
            raise _fail(node, "BatchNorm that does not follow a Conv2d or Linear alone")
        prev = self.nodes[j]
        self.nodes[j] = L.Node(prev.name, _fold(prev.op, bn), prev.inputs)
        self.index[node] = j
        self.notes.append(f"batch norm {node.target} folded into {prev.name}")

    def call(self, node: fx.Node) -> None:
        if node.op == "call_module":
            mod = self.root.get_submodule(node.target)
            if isinstance(mod, nn.BatchNorm1d | nn.BatchNorm2d):
                return self.batch_norm(node, mod)
            return self.add(node, _module_op(mod, node), [node.args[0]])
        kind: Callable[..., Any] | str = node.target
        if node.op == "call_method" and kind == "size":
            return None  # a shape read (of view(x.size(0), -1)), not a value
        if kind in _ADDS or (kind in ("add", "__add__") and node.op == "call_method"):
            if len(node.args) != 2 or node.kwargs:
                raise _fail(node, "an addition of other than two tensors")
            return self.add(node, L.Add(), list(node.args))
        if kind in _RELUS or (node.op == "call_method" and kind == "relu"):
            return self.add(node, L.ReLU(), [node.args[0]])
        flattens = kind in _FLATTENS or (node.op == "call_method"
                                         and kind in ("flatten", "view", "reshape"))
        if flattens and _flatten_args(node):
            return self.add(node, L.Flatten(), [node.args[0]])
        raise _fail(node, f"{node.op} {getattr(kind, '__name__', kind)}")


def from_torch(model: nn.Module, input_shape: tuple[int, ...]) -> L.Graph:
    """The layer graph of ``model`` (in eval mode) for images of ``input_shape``."""
    model = model.eval()
    try:
        traced = _Tracer().trace(model)
    except Exception as exc:  # data-dependent control flow and the like
        raise L.UnsupportedLayer(f"cannot trace {type(model).__name__} with torch.fx: "
                                 f"{exc}") from exc
    builder = _Builder(model)
    for node in traced.nodes:
        if node.op == "placeholder":
            if builder.index:
                raise _fail(node, "a second input")
            builder.index[node] = L.INPUT
        elif node.op == "output":
            out = builder.tensor(node.args[0], node)
            if out != len(builder.nodes) - 1:
                raise _fail(node, "an output that is not the last operation")
        elif node.op in ("call_module", "call_function", "call_method"):
            builder.call(node)
        else:
            raise _fail(node, node.op)
    if not builder.nodes:
        raise L.UnsupportedLayer(f"{type(model).__name__} computes nothing")
    return L.checked(L.Graph(tuple(builder.nodes), tuple(input_shape), tuple(builder.notes)))
