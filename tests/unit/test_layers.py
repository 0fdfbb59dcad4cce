"""The layer graph: import from torch (tracing, batch norm folding, refusals), plain
evaluation of every operation, rewrites."""

import numpy as np
import pytest
import torch
from torch import nn

from mpcbench import models
from mpcbench.models import layers as L
from mpcbench.models import plain, rewrites
from mpcbench.models.importer import from_torch


@pytest.mark.parametrize("name", models.names())
def test_imported_graph_matches_torch_model(name):
    model = models.load_trained(name, "mnist") if name in ("mlp", "bnn", "cnn") \
        else models.build(name).eval()
    graph = models.graph(name, "mnist") if name in ("mlp", "bnn", "cnn") \
        else from_torch(model, models.input_shape(name))
    x = torch.randn(4, *graph.input_shape)
    assert torch.allclose(plain.evaluate(graph, x), model(x).double(), atol=1e-4)


class Residual(nn.Module):
    """Not in the zoo: strided padded conv + batch norm, a residual sum, average pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.inner = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(4 * 7 * 7, 10)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        y = nn.functional.relu(y + self.inner(y))
        return self.fc(self.pool(y).view(y.size(0), -1))


def _trained_statistics(model: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, 1, 28, 28) * 2 + 1)  # running statistics far from 0, 1
    return model.eval()


def test_residual_network_with_batch_norm_is_imported_exactly():
    model = _trained_statistics(Residual())
    graph = from_torch(model, (1, 28, 28))
    assert [type(op).__name__ for op in graph.ops] == [
        "Conv2d", "ReLU", "Conv2d", "Add", "ReLU", "AvgPool2d", "Flatten", "Linear"]
    assert graph.nodes[3].inputs == (1, 2)  # the residual sum reads the ReLU and the conv
    assert graph.notes == ("batch norm bn folded into conv",)
    x = torch.randn(3, 1, 28, 28)
    assert torch.allclose(plain.evaluate(graph, x), model(x).double(), atol=1e-5)


@pytest.mark.parametrize(("module", "named"), [
    (nn.Sequential(nn.Linear(2, 2), nn.Tanh()), r"node 1 \(module Tanh\)"),
    (nn.Sequential(nn.Conv2d(1, 1, 3, groups=1, dilation=2)), "dilation"),
    (nn.Sequential(nn.MaxPool2d(2, ceil_mode=True)), "ceil_mode"),
    (nn.Sequential(nn.ReLU(), nn.BatchNorm2d(1)), "BatchNorm that does not follow"),
])
def test_unsupported_operations_are_named_with_what_is_supported(module, named):
    with pytest.raises(L.UnsupportedLayer, match=named) as exc:
        from_torch(module, (1, 4, 4))
    assert "supported: Conv2d" in str(exc.value) and exc.value.exit_code == 2


@pytest.mark.parametrize("name", models.names())
def test_shapes_are_torchs_without_running_torch(name):
    """Shape arithmetic (what a party without torch counts comparisons with) gives the
    shapes of the plain evaluation of every node."""
    graph = L.blank(from_torch(models.build(name).eval(), models.input_shape(name)))
    seen = []
    graph.run(torch.zeros((1, *graph.input_shape), dtype=torch.float64),
              lambda _i, node, ins: seen.append(plain.apply(node.op, ins)) or seen[-1])
    assert L.shapes(graph) == [tuple(y.shape[1:]) for y in seen]


def test_a_graph_that_does_not_fit_its_images_is_refused():
    with pytest.raises(L.UnsupportedLayer, match=r"shape \(1, 28, 28\)"):
        from_torch(nn.Sequential(nn.Flatten(), nn.Linear(10, 2)), (1, 28, 28))


def test_default_graph_is_the_network_as_given_and_the_rewrite_is_named():
    graph = models.graph("cnn", "mnist")
    assert [type(op).__name__ for op in graph.ops][2:5] == ["Conv2d", "ReLU", "MaxPool2d"]
    assert rewrites.rewrite(graph, rewrites.NONE) == (graph, [])
    fast, (note,) = rewrites.rewrite(graph, "pool_before_relu")
    assert note.startswith("nodes 3-4: ReLU, MaxPool2d(2) -> MaxPool2d(2), ReLU")
    assert [type(op).__name__ for op in fast.ops][2:5] == ["Conv2d", "MaxPool2d", "ReLU"]
    x = torch.randn(3, 1, 28, 28)
    assert torch.allclose(plain.evaluate(fast, x), plain.evaluate(graph, x), atol=1e-10)
    assert L.count_comparisons(fast) < L.count_comparisons(graph)
    assert rewrites.rewrite(models.graph("mlp", "mnist"), "pool_before_relu")[1] == []
    with pytest.raises(rewrites.InputError, match="unknown rewrite 'fast'"):
        rewrites.requested({"rewrite": "fast"})


def test_blank_keeps_structure_but_not_values():
    graph = models.graph("mlp", "mnist")
    blank = L.blank(graph)
    assert [type(a) for a in graph.ops] == [type(b) for b in blank.ops]
    assert all(not op.weight.any() for op in blank.ops if isinstance(op, L.Linear))
    assert models.structure("mlp").nodes == blank.nodes or all(
        type(a.op) is type(b.op) for a, b in zip(models.structure("mlp").nodes, blank.nodes,
                                                  strict=True))


def test_sign_is_plus_one_at_zero():
    y = plain.apply(L.Sign(), [torch.tensor([[-1.0, 0.0, 2.0]])])
    assert y.tolist() == [[-1.0, 1.0, 1.0]]


@pytest.mark.parametrize("op", [L.MaxPool2d(3, 2, 1), L.MaxPool2d(2), L.AvgPool2d(3, 1, 1),
                                L.AvgPool2d(2, 2, 0)])
def test_separable_windows_give_torchs_pooling(op):
    """What the secure backends compute: pooling rows then columns over :func:`windows`
    (max pooling with its edge repeated, average pooling with zeros)."""
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64)
    edge = op.padding if isinstance(op, L.MaxPool2d) else 0

    def pad(a, axis, p):
        mode = "replicate" if isinstance(op, L.MaxPool2d) else "constant"
        spec = (0, 0, p, p) if axis == 2 else (p, p, 0, 0)
        return torch.nn.functional.pad(a, spec, mode=mode)

    y = x
    for axis in (2, 3):
        parts = L.windows(y, op, pad, axis)
        y = torch.stack(parts).amax(0) if isinstance(op, L.MaxPool2d) else sum(parts)
    if isinstance(op, L.AvgPool2d):
        y = y / op.kernel**2
    assert edge <= op.kernel // 2
    np.testing.assert_allclose(y, plain.apply(op, [x]), atol=1e-12)


def test_graph_refuses_reading_later_nodes():
    with pytest.raises(L.UnsupportedLayer, match="must read 2 earlier"):
        L.Graph((L.Node("a", L.Add(), (L.INPUT, 0)),), (1,))
