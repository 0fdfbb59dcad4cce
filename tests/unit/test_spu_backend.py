"""The SPU backend without parties: its options and protocols, and the jax program of a
layer graph against the plain evaluation (the secure runs: the conformance battery)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mpcbench import data, models
from mpcbench.case import Case
from mpcbench.models import layers as L
from mpcbench.models.plain import evaluate
from mpcbench.parties import get
from mpcbench.parties.base import Unsupported

spu_backend = get("spu")
pytestmark = pytest.mark.skipif(spu_backend.available() is not None,
                                reason=f"spu: {spu_backend.available()}")


@pytest.mark.parametrize(("parties", "options", "said"), [
    (2, {"protocol": "ABY3"}, "spu protocol ABY3 runs with exactly 3 parties, got 2"),
    (3, {"protocol": "cheetah"}, "spu protocol CHEETAH runs with exactly 2 parties, got 3"),
    (2, {"protocol": "SPDZ"}, "spu option protocol must be one of SEMI2K, ABY3, CHEETAH"),
    (2, {"field": "FM32"}, "spu option field must be one of FM64, FM128, got 'FM32'"),
    (2, {"fxp_fraction_bits": 40}, "spu option fxp_fraction_bits must be an integer from "
                                   "1 to 31 for FM64, got 40"),
    (2, {"beaver": "TTP"}, "unknown spu options ['beaver']"),
    (17, {}, "spu runs with 2 to 16 parties, got 17"),
])
def test_a_case_spu_cannot_run_is_refused_in_one_line(parties, options, said):
    with pytest.raises(Unsupported, match=None) as refused:
        spu_backend.validate(Case("spu", "mlp", parties=parties, options=options))
    assert said in str(refused.value) and "\n" not in str(refused.value)


def test_the_resolved_options_record_the_real_fixed_point():
    """Unset fractional bits are SPU's default for the ring, recorded as their value."""
    assert spu_backend.resolve(Case("spu", "mlp", parties=2)) == {
        "protocol": "SEMI2K", "field": "FM64", "fxp_fraction_bits": 18}
    wide = Case("spu", "mlp", parties=3, options={"protocol": "aby3", "field": "fm128"})
    assert spu_backend.resolve(wide) == {"protocol": "ABY3", "field": "FM128",
                                         "fxp_fraction_bits": 26}
    assert spu_backend.value_range(Case("spu", "mlp", parties=2)) == 2.0 ** (63 - 36)
    assert spu_backend.share_encoding(wide) == {"scheme": "ABY3", "field": "FM128",
                                                "fxp_fraction_bits": 26}


def _residual() -> L.Graph:
    """Every operation of the layer graph, with padding and strides."""
    rng = np.random.default_rng(0)

    def conv(o, c, k, stride=1, padding=0):
        return L.Conv2d(rng.normal(size=(o, c, k, k)) * 0.3, rng.normal(size=o) * 0.1,
                        stride, padding)

    nodes = [L.Node("conv", conv(4, 1, 3, 1, 1), (L.INPUT,)),
             L.Node("relu", L.ReLU(), (0,)),
             L.Node("max", L.MaxPool2d(3, 2, 1), (1,)),
             L.Node("conv2", conv(4, 4, 3, 1, 1), (2,)),
             L.Node("add", L.Add(), (3, 2)),
             L.Node("avg", L.AvgPool2d(3, 1, 1), (4,)),
             L.Node("sign", L.Sign(), (5,)),
             L.Node("conv3", conv(3, 4, 2, 2), (6,)),
             L.Node("gap", L.GlobalAvgPool(), (7,)),
             L.Node("flat", L.Flatten(), (8,)),
             L.Node("fc", L.Linear(rng.normal(size=(10, 3)), rng.normal(size=10)), (9,))]
    return L.Graph(tuple(nodes), (1, 28, 28))


@pytest.mark.parametrize("graph", [lambda: models.graph("mlp", "mnist"),
                                   lambda: models.graph("cnn", "mnist"), _residual],
                         ids=["mlp", "cnn", "every-operation"])
def test_the_program_computes_the_graph(graph):
    """The jax function SPU compiles, run by jax in the clear on two slices of a batch,
    gives the plain evaluation's logits."""
    from mpcbench.parties.spu import program

    g = graph()
    x, _ = data.load("mnist", "test", limit=6, shape=g.input_shape)
    plain = evaluate(g, x, torch.float32).numpy()
    weights = program.params(g)
    got = np.asarray(program.forward(g)(weights, [x[:4].numpy(), x[4:].numpy()]))
    assert got.shape == plain.shape
    np.testing.assert_allclose(got, plain, rtol=1e-4, atol=1e-4)
    assert len(program.param_names(g)) == len(weights)
