"""Import an ONNX file into a layer graph (:class:`.layers.Graph`), as :mod:`.importer`
does a torch module: a user's network, exported by any framework, runs on every backend.

The file is checked (``onnx.checker``) and its shapes inferred
(``onnx.shape_inference``); its initialisers (and ``Constant`` nodes) are the weights.
One operator at a time, each node becomes a graph node through a table of small
builders (:data:`_BUILDERS`): batch norm is folded into the convolution or linear layer
it follows (:mod:`.folding`; the graph's notes say which), a ``MatMul`` followed by the
``Add`` of a constant is one linear layer, a ``Reshape`` to ``[N, -1]`` is a flatten,
dropout and identities vanish (inference), and anything else is refused with the node,
its operator and what is supported (:class:`.layers.UnsupportedLayer`, exit 2). The
graph takes one input of shape ``[N, C, H, W]`` (``N`` symbolic or 1).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import ModelError
from . import layers as L
from .folding import fold

if TYPE_CHECKING:
    from onnx import ModelProto, NodeProto

#: what an ONNX graph may consist of (said when something else is found)
SUPPORTED = ("Conv (group 1, dilations 1, square kernel and strides, the same padding on "
             "every side), Gemm (alpha and beta 1) and MatMul + Add of a constant, Relu, "
             "MaxPool / AveragePool (square kernel, strides and padding, no ceil mode; "
             "AveragePool counting the padding), GlobalAveragePool, Flatten (axis 1), "
             "Reshape to [N, -1], BatchNormalization after a Conv or Gemm, Add of two "
             "activations, Dropout, Identity, Constant")


class OnnxError(ModelError):
    """A file that is not a valid ONNX model, or whose input or shapes cannot be
    resolved."""


def _name(node: NodeProto) -> str:
    return node.name or node.output[0]


def _fail(node: NodeProto, what: str) -> L.UnsupportedLayer:
    return L.UnsupportedLayer(f"cannot import node {_name(node)} ({what}); "
                              f"supported: {SUPPORTED}")


def _attrs(node: NodeProto) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _square(values: list[int], node: NodeProto, what: str) -> int:
    """The one value of a square (or symmetric) attribute; refused otherwise."""
    if len(set(values)) != 1:
        raise _fail(node, f"{node.op_type} with {what} {list(values)}")
    return int(values[0])


class _Builder:
    """Turns the ONNX nodes into graph nodes, one at a time."""

    def __init__(self, model: ModelProto) -> None:
        from onnx import numpy_helper

        graph = model.graph
        #: constant values by name: initialisers, ``Constant`` outputs
        self.consts: dict[str, np.ndarray] = {
            t.name: numpy_helper.to_array(t) for t in graph.initializer}
        #: inferred shape of every value (``None``: a symbolic dimension)
        self.shapes: dict[str, list[int | None]] = {
            v.name: [d.dim_value if d.HasField("dim_value") else None
                     for d in v.type.tensor_type.shape.dim]
            for v in (*graph.input, *graph.value_info, *graph.output)}
        self.readers: dict[str, int] = {}
        for node in graph.node:
            for name in node.input:
                self.readers[name] = self.readers.get(name, 0) + 1
        for value in graph.output:
            self.readers[value.name] = self.readers.get(value.name, 0) + 1
        self.nodes: list[L.Node] = []
        self.notes: list[str] = []
        #: value name -> index of the graph node holding it (or INPUT)
        self.index: dict[str, int] = {}

    def tensor(self, node: NodeProto, i: int) -> int:
        """The graph node computing input ``i`` of ``node`` (an activation)."""
        name = node.input[i]
        if name not in self.index:
            raise _fail(node, f"{node.op_type} of {name!r}, which is not an activation")
        return self.index[name]

    def const(self, node: NodeProto, i: int) -> np.ndarray | None:
        """Input ``i`` of ``node`` as a constant (``None``: the input is absent)."""
        if i >= len(node.input) or not node.input[i]:
            return None
        name = node.input[i]
        if name not in self.consts:
            raise _fail(node, f"{node.op_type} of {name!r}, which is not a constant")
        return self.consts[name]

    def param(self, node: NodeProto, i: int, size: int) -> np.ndarray:
        """Input ``i`` of ``node`` as float64 weights (absent: ``size`` zeros)."""
        value = self.const(node, i)
        return np.zeros(size) if value is None else value.astype(np.float64)

    def add(self, node: NodeProto, op: L.Layer, reads: list[int]) -> None:
        self.index[node.output[0]] = len(self.nodes)
        self.nodes.append(L.Node(_name(node), op, tuple(reads)))

    def alias(self, node: NodeProto) -> None:
        """``node`` passes its input on (an identity at inference)."""
        if any(self.readers.get(out) for out in node.output[1:]):
            raise _fail(node, f"{node.op_type} whose second output is read")
        if node.input[0] in self.consts:
            self.consts[node.output[0]] = self.consts[node.input[0]]
        else:
            self.index[node.output[0]] = self.tensor(node, 0)

    def affine_before(self, node: NodeProto, what: str, i: int = 0) -> int:
        """The Conv or linear node whose output ``node`` alone reads as its input ``i``
        (to fold ``what`` into)."""
        j = self.tensor(node, i)
        if j == L.INPUT or not isinstance(self.nodes[j].op, L.Affine) \
                or self.readers.get(node.input[i]) != 1:
            raise _fail(node, f"{what} that does not follow a Conv or Gemm alone")
        return j


def _conv(b: _Builder, node: NodeProto) -> None:
    a = _attrs(node)
    x, weight = b.tensor(node, 0), b.param(node, 1, 0)
    if a.get("group", 1) != 1 or set(a.get("dilations", [1])) != {1}:
        raise _fail(node, "Conv with groups or dilations")
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID") or weight.ndim != 4:
        raise _fail(node, f"Conv with auto_pad {a['auto_pad']!r}" if "auto_pad" in a
                    else f"Conv of weights of shape {weight.shape}")
    _square(list(weight.shape[2:]), node, "kernel")
    b.add(node, L.Conv2d(weight, b.param(node, 2, weight.shape[0]),
                         _square(a.get("strides", [1]), node, "strides"),
                         _square(a.get("pads", [0]), node, "pads")), [x])


def _gemm(b: _Builder, node: NodeProto) -> None:
    a = _attrs(node)
    if a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or a.get("transA", 0):
        raise _fail(node, "Gemm with alpha or beta other than 1, or transA")
    weight = b.param(node, 1, 0)
    weight = weight if a.get("transB", 0) else weight.T
    bias = b.param(node, 2, weight.shape[0]).reshape(-1)
    if bias.shape != (weight.shape[0],):
        raise _fail(node, f"Gemm with a bias of {bias.size} values for {weight.shape[0]} "
                          "outputs")
    b.add(node, L.Linear(weight, bias), [b.tensor(node, 0)])


def _matmul(b: _Builder, node: NodeProto) -> None:
    weight = b.param(node, 1, 0)
    if weight.ndim != 2:
        raise _fail(node, f"MatMul by a constant of shape {weight.shape}")
    b.add(node, L.Linear(weight.T, np.zeros(weight.shape[1])), [b.tensor(node, 0)])


def _add(b: _Builder, node: NodeProto) -> None:
    if all(name in b.index for name in node.input):
        return b.add(node, L.Add(), [b.tensor(node, 0), b.tensor(node, 1)])
    x = 1 if node.input[0] in b.consts else 0  # Add(x, bias) or Add(bias, x)
    j = b.affine_before(node, "Add of a constant", x)
    prev, bias = b.nodes[j], b.param(node, 1 - x, 0).reshape(-1)
    if not isinstance(prev.op, L.Linear) or bias.size != prev.op.bias.size:
        raise _fail(node, "Add of a constant that is not the bias of a MatMul")
    b.nodes[j] = L.Node(prev.name, L.Linear(prev.op.weight, prev.op.bias + bias),
                        prev.inputs)
    b.index[node.output[0]] = j
    return None


def _pool(b: _Builder, node: NodeProto) -> None:
    a = _attrs(node)
    if a.get("ceil_mode", 0) or set(a.get("dilations", [1])) != {1} \
            or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"):
        raise _fail(node, f"{node.op_type} with ceil_mode, dilations or auto_pad")
    kernel = _square(a["kernel_shape"], node, "kernel_shape")
    stride = _square(a.get("strides", [1]), node, "strides")
    padding = _square(a.get("pads", [0]), node, "pads")
    if node.op_type == "MaxPool":
        return b.add(node, L.MaxPool2d(kernel, stride, padding), [b.tensor(node, 0)])
    if padding and not a.get("count_include_pad", 0):
        raise _fail(node, "AveragePool with padding and count_include_pad 0")
    return b.add(node, L.AvgPool2d(kernel, stride, padding), [b.tensor(node, 0)])


def _flatten(b: _Builder, node: NodeProto) -> None:
    if _attrs(node).get("axis", 1) != 1:
        raise _fail(node, f"Flatten with axis {_attrs(node)['axis']}")
    b.add(node, L.Flatten(), [b.tensor(node, 0)])


def _flattens(dims: list[int | None], target: list[int]) -> bool:
    """Whether reshaping a value of ``dims`` (``None``: a symbolic batch) to ``target``
    (``0``: the dimension kept, ``-1``: the rest) flattens all but its first dimension."""
    if len(target) != 2 or len(dims) < 2 or None in dims[1:]:
        return False
    n, flat = dims[0], int(np.prod(dims[1:]))
    wanted = [dims[i] if v == 0 else v for i, v in enumerate(target)]
    if n is None:  # the batch is kept as 0 or inferred as -1
        return wanted in ([None, -1], [None, flat], [-1, flat])
    if wanted.count(-1) == 1:
        known = wanted[1 - wanted.index(-1)]
        if known <= 0 or (n * flat) % known:
            return False
        wanted[wanted.index(-1)] = n * flat // known
    return wanted == [n, flat]


def _reshape(b: _Builder, node: NodeProto) -> None:
    target = b.const(node, 1)
    dims = b.shapes.get(node.input[0])
    if dims is None:
        raise OnnxError(f"cannot resolve the shape of {node.input[0]!r}, the input of node "
                        f"{_name(node)} (Reshape)")
    if target is None or not _flattens(dims, [int(v) for v in target.reshape(-1)]):
        raise _fail(node, f"Reshape of {dims} to {target} that does not flatten it to "
                          "[N, -1]")
    b.add(node, L.Flatten(), [b.tensor(node, 0)])


def _batch_norm(b: _Builder, node: NodeProto) -> None:
    a = _attrs(node)
    if a.get("training_mode", 0) or any(b.readers.get(out) for out in node.output[1:]):
        raise _fail(node, "BatchNormalization in training mode")
    j = b.affine_before(node, "BatchNormalization")
    prev = b.nodes[j]
    size = prev.op.bias.size
    b.nodes[j] = L.Node(prev.name, fold(prev.op, b.param(node, 3, size),
                                        b.param(node, 4, size), a.get("epsilon", 1e-5),
                                        b.param(node, 1, size), b.param(node, 2, size)),
                        prev.inputs)
    b.index[node.output[0]] = j
    b.notes.append(f"batch norm {_name(node)} folded into {prev.name}")


def _constant(b: _Builder, node: NodeProto) -> None:
    from onnx import numpy_helper

    ((key, value),) = _attrs(node).items()
    b.consts[node.output[0]] = (numpy_helper.to_array(value) if key == "value"
                                else np.asarray(value))


def _op(op: L.Layer) -> Callable[[_Builder, NodeProto], None]:
    return lambda b, node: b.add(node, op, [b.tensor(node, 0)])


#: ONNX operator -> the builder of its graph node
_BUILDERS: dict[str, Callable[[_Builder, NodeProto], None]] = {
    "Conv": _conv, "Gemm": _gemm, "MatMul": _matmul, "Add": _add, "Relu": _op(L.ReLU()),
    "MaxPool": _pool, "AveragePool": _pool, "GlobalAveragePool": _op(L.GlobalAvgPool()),
    "Flatten": _flatten, "Reshape": _reshape, "BatchNormalization": _batch_norm,
    "Dropout": _Builder.alias, "Identity": _Builder.alias, "Constant": _constant,
}


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read(path: Path) -> ModelProto:
    """The checked model of ``path`` with its shapes inferred; :class:`OnnxError` if it
    is no ONNX model or its shapes cannot be inferred."""
    import onnx

    if not path.is_file():
        raise OnnxError(f"no ONNX file {path}")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:  # a protobuf decode error, a checker's ValidationError
        raise OnnxError(f"{path} is not a valid ONNX model: {_first_line(exc)}") from exc
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except Exception as exc:  # onnx.shape_inference.InferenceError
        raise OnnxError(f"cannot infer the shapes of {path}: "
                        f"{_first_line(exc)}") from exc


def _input(b: _Builder, model: ModelProto, path: Path) -> tuple[str, tuple[int, ...]]:
    """The graph's one image input and the shape of one image, ``(C, H, W)``."""
    inputs = [v.name for v in model.graph.input if v.name not in b.consts]
    if len(inputs) != 1:
        raise OnnxError(f"{path} has {len(inputs)} inputs; one input of shape "
                        "[N, C, H, W] is supported")
    dims = b.shapes[inputs[0]]
    if len(dims) != 4 or dims[0] not in (None, 1) or None in dims[1:] \
            or min(d or 0 for d in dims[1:]) < 1:
        shown = ["N" if d is None else d for d in dims]
        raise OnnxError(f"{path}: input {inputs[0]!r} has shape {shown}; [N, C, H, W] with "
                        "N symbolic or 1 and C, H, W fixed is supported")
    return inputs[0], tuple(int(d or 0) for d in dims[1:])


def from_onnx(path: Path | str) -> L.Graph:
    """The layer graph of the ONNX file ``path``, its initialisers as weights."""
    path = Path(path)
    model = _read(path)
    b = _Builder(model)
    name, shape = _input(b, model, path)
    b.index[name] = L.INPUT
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in _BUILDERS:
            raise _fail(node, node.op_type)
        _BUILDERS[node.op_type](b, node)
    outputs = [v.name for v in model.graph.output]
    if not b.nodes or len(outputs) != 1 or b.index.get(outputs[0]) != len(b.nodes) - 1:
        raise L.UnsupportedLayer(f"{path}: the graph's one output must be its last "
                                 f"operation; outputs: {', '.join(outputs)}")
    return L.checked(L.Graph(tuple(b.nodes), shape, tuple(b.notes)))
