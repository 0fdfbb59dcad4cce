"""The CrypTen backend without a network: case checks, security record, layer steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mpcbench import models
from mpcbench.case import Case
from mpcbench.models import layers as L
from mpcbench.models import plain
from mpcbench.parties import get
from mpcbench.parties.base import Unsupported
from mpcbench.parties.crypten import CryptenBackend
from mpcbench.parties.crypten import layers as backend_module

pytestmark = pytest.mark.crypten


def _case(**kw) -> Case:
    return Case(**{"framework": "crypten", "model": "mlp", **kw})


def test_registered_and_available():
    assert get("crypten") is CryptenBackend
    assert CryptenBackend.available() is None
    assert CryptenBackend.versions()["crypten"] == "0.4.1"


@pytest.mark.parametrize("parties", [2, 3, 16])
def test_validate_accepts_two_to_sixteen_parties(parties):
    CryptenBackend.validate(_case(parties=parties))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"parties": 1}, "2 to 16 parties"),
        ({"parties": 17}, "2 to 16 parties"),
        ({"options": {"provider": "HE"}}, "unknown crypten provider"),
        ({"options": {"threshold": 1}}, "unknown crypten options"),
        ({"options": {"tuned": True}}, "unknown crypten options"),
        ({"options": {"variant": "fast"}}, "variant must be one of stock, tuned"),
    ],
)
def test_validate_rejects(kw, message):
    with pytest.raises(Unsupported, match=message):
        CryptenBackend.validate(_case(**kw))


def test_security_is_n_out_of_n_with_a_trusted_first_party():
    sec = CryptenBackend.security(_case(parties=5))
    assert sec["threshold"] == 4
    assert sec["provider"] == "TFP" and sec["adversary"] == "semi-honest"
    assert "64-bit ring" in sec["protocol"]
    assert CryptenBackend.security(_case(options={"provider": "ttp"}))["provider"] == "TTP"


def test_ttp_runs_a_dealer_that_is_nobodys_data():
    ttp = _case(parties=3, options={"provider": "ttp"})
    CryptenBackend.validate(ttp)
    assert CryptenBackend.dealers(ttp) == 1 and CryptenBackend.dealers(_case()) == 0
    assert CryptenBackend.security(ttp)["dealer"] == (
        "a separate party (rank 3), not a data or model owner")
    assert CryptenBackend.security(_case())["dealer"] == "party 0 (trusted first party)"


def test_stock_by_default_tuned_as_a_named_variant():
    assert CryptenBackend.resolve(_case()) == {"provider": "TFP", "variant": "stock"}
    tuned = _case(options={"variant": "tuned"})
    assert CryptenBackend.resolve(tuned) == {"provider": "TFP", "variant": "tuned"}
    stock_sec, tuned_sec = CryptenBackend.security(_case()), CryptenBackend.security(tuned)
    assert stock_sec["variant"] == "stock" and stock_sec["tuned_changes"] == []
    assert "mt19937" in stock_sec["prg"] and "SFC64" in tuned_sec["prg"]
    changes = " ".join(tuned_sec["tuned_changes"])
    assert "isend/irecv" in changes and "max_pool2d" in changes


def test_value_range_is_the_products_headroom_in_the_ring():
    assert CryptenBackend.value_range(_case()) == 2.0**31


@pytest.mark.parametrize("tree", [False, True])
def test_max_pool_step_is_crypten_own_unless_tuned(crypten_one_party, tree):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 6, 6)
    step = backend_module.layer_step(crypten_one_party, L.MaxPool2d(2), {}, tree=tree)
    out = step(crypten_one_party.cryptensor(x))
    assert torch.allclose(out.get_plain_text(), F.max_pool2d(x, 2), atol=1e-4)


@pytest.mark.parametrize(("shape", "k"), [((2, 3, 6, 6), 2), ((1, 2, 7, 5), 2), ((1, 1, 9, 9), 3)])
def test_tree_max_pool_matches_torch(crypten_one_party, shape, k):
    torch.manual_seed(0)
    x = torch.randn(shape)
    out = backend_module.max_pool(crypten_one_party, crypten_one_party.cryptensor(x),
                                  L.MaxPool2d(k))
    assert torch.allclose(out.get_plain_text(), F.max_pool2d(x, k), atol=1e-4)


def test_sign_maps_zero_to_plus_one(crypten_one_party):
    step = backend_module.layer_step(crypten_one_party, L.Sign(), {})
    x = crypten_one_party.cryptensor(torch.tensor([-2.0, -1e-3, 0.0, 1e-3, 5.0]))
    assert step(x).get_plain_text().tolist() == [-1, -1, 1, 1, 1]


def _secure_steps(crypten, graph: L.Graph, x: torch.Tensor, tree: bool) -> np.ndarray:
    """``graph`` on ``x`` through the backend's steps, on one party."""
    steps = [backend_module.layer_step(
        crypten, lay, backend_module.share_params(crypten, lay, 0, 16), tree)
        for lay in graph.ops]
    y = graph.run(crypten.cryptensor(x), lambda i, _node, ins: steps[i](*ins))
    return y.get_plain_text().double()


@pytest.mark.parametrize("tree", [False, True])
@pytest.mark.parametrize("name", ["mlp", "bnn", "cnn"])
def test_graph_steps_match_plaintext(crypten_one_party, name, tree):
    """Every layer translation on one party against :func:`layers.evaluate`."""
    torch.manual_seed(1)
    graph = models.graph(name, "mnist")
    x = torch.randn(2, *graph.input_shape)
    np.testing.assert_allclose(_secure_steps(crypten_one_party, graph, x, tree),
                               plain.evaluate(graph, x), atol=2e-2)


@pytest.mark.parametrize("tree", [False, True])
def test_pooling_and_residual_sums_match_plaintext(crypten_one_party, branching_graph, tree):
    x = torch.randn(2, *branching_graph.input_shape)
    np.testing.assert_allclose(_secure_steps(crypten_one_party, branching_graph, x, tree),
                               plain.evaluate(branching_graph, x), atol=2e-3)
