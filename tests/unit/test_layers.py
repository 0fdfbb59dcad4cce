import pytest
import torch
from torch import nn

from mpcbench import models
from mpcbench.models import layers as L


@pytest.mark.parametrize("name", ["mlp", "bnn", "cnn"])
def test_description_matches_torch_model(name):
    model = models.load_trained(name, "mnist")
    x = torch.randn(4, 1, 28, 28)
    got = L.evaluate(L.describe(model), x)
    want = model(x).double()
    assert torch.allclose(got, want, atol=1e-4)


def test_pool_moves_before_relu_and_keeps_the_function():
    model = models.load_trained("cnn", "mnist")
    kinds = [type(lay).__name__ for lay in L.describe(model)]
    assert kinds[2:5] == ["Conv2d", "MaxPool2d", "ReLU"]
    x = torch.randn(3, 1, 28, 28)
    fast = L.evaluate(L.describe(model), x)
    literal = L.evaluate(L.describe(model, pool_before_relu=False), x)
    assert torch.allclose(fast, literal, atol=1e-10)
    assert L.count_comparisons(L.describe(model), models.INPUT_SHAPE) < L.count_comparisons(
        L.describe(model, pool_before_relu=False), models.INPUT_SHAPE)


def test_unknown_layer_is_named():
    with pytest.raises(L.UnsupportedLayer, match="Tanh"):
        L.describe(nn.Sequential(nn.Linear(2, 2), nn.Tanh()))


def test_blank_keeps_structure_but_not_values():
    desc = L.describe(models.load_trained("mlp", "mnist"))
    blank = L.blank(desc)
    assert [type(a) for a in desc] == [type(b) for b in blank]
    for a, b in zip(desc, blank, strict=True):
        if isinstance(a, L.Linear):
            assert a.weight.shape == b.weight.shape and not b.weight.any()


def test_sign_is_plus_one_at_zero():
    y = L.evaluate([L.Sign()], torch.tensor([[-1.0, 0.0, 2.0]]))
    assert y.tolist() == [[-1.0, 1.0, 1.0]]
