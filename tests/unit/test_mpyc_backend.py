"""The MPyC backend without a network: one party (MPyC runs it locally, threshold 0).

Every layer type is checked against :func:`mpcbench.models.layers.evaluate`; the
multi-party protocol runs in ``tests/integration/test_mpyc_backend.py``.
"""

from __future__ import annotations

import secrets

import numpy as np
import pytest
import torch

from mpcbench.case import Case
from mpcbench.models import layers as L
from mpcbench.models import plain
from mpcbench.parties import get
from mpcbench.parties.base import Unsupported
from mpcbench.parties.context import PartyContext
from mpcbench.parties.mpyc import MpycBackend, modmat
from mpcbench.parties.mpyc.backend import mpyc_argv
from mpcbench.parties.mpyc.fixedpoint import FixedPoint

pytestmark = pytest.mark.mpyc

FMT = FixedPoint()
#: one unit of the activation format, the rounding step of a truncation
ULP = 2.0**-FMT.frac_bits


def _case(**kw) -> Case:
    return Case(**{"framework": "mpyc", "model": "mlp", **kw})


def _ctx(parties: int, rank: int = 0, **kw) -> PartyContext:
    addresses = tuple(f"127.0.0.1:{11000 + r}" for r in range(parties))
    return PartyContext(rank=rank, parties=parties, addresses=addresses,
                        case=_case(parties=parties, **kw))


@pytest.fixture(scope="module", params=["stock", "tuned"])
def backend(request):
    """One party of each variant (one runtime at a time: module scope, in turn)."""
    b = MpycBackend()
    b.setup(_ctx(1, options={"variant": request.param}))
    yield b
    b.teardown()


@pytest.fixture
def speedups_on(backend):
    """MPyC's local code replaced by the project's for one test."""
    from mpcbench.parties.mpyc import speedups

    was = speedups.enabled()
    speedups.enable()
    yield speedups
    if not was:
        speedups.disable()


def _chain(layers: list[L.Layer], x: torch.Tensor) -> L.Graph:
    """The graph applying ``layers`` in turn to images like ``x``."""
    return L.Graph.chain(layers, tuple(x.shape[1:]))


def _plain(layers: list[L.Layer], x: torch.Tensor) -> torch.Tensor:
    return plain.evaluate(_chain(layers, x), x)


def _secure(backend: MpycBackend, layers: list[L.Layer], x: torch.Tensor) -> torch.Tensor:
    """The backend's logits (numpy in, numpy out) as a tensor, to compare with torch's."""
    model = backend.share_model(_chain(layers, x))
    y = backend.infer(model, backend.share_input(x.numpy(), tuple(x.shape), 0))
    return torch.from_numpy(backend.reveal(y, 0))


def _linear(rng, n_in, n_out) -> L.Linear:
    return L.Linear(rng.normal(0, 0.3, (n_out, n_in)), rng.normal(0, 0.3, n_out))


def _conv(rng, c_in, c_out, k, stride=1, padding=0) -> L.Conv2d:
    return L.Conv2d(rng.normal(0, 0.3, (c_out, c_in, k, k)), rng.normal(0, 0.3, c_out),
                    stride, padding)


def test_registered_and_available():
    assert get("mpyc") is MpycBackend
    assert MpycBackend.available() is None
    assert MpycBackend.versions()["mpyc"].startswith("0.")


def test_argv_names_every_party_and_the_threshold():
    argv = mpyc_argv(_ctx(3, rank=2, options={"bit_length": 16}), FixedPoint(16, 7, 10), "prog")
    assert argv == ["prog", "-M", "3", "-I", "2", "-P", "127.0.0.1:11000", "-P",
                    "127.0.0.1:11001", "-P", "127.0.0.1:11002", "-T", "1", "-L", "16",
                    "--no-log"]
    assert mpyc_argv(_ctx(1), FMT)[1:] == ["-M", "1", "-I", "0", "-T", "0", "-L", "14",
                                          "--no-log"]
    argv = mpyc_argv(_ctx(5, options={"threshold": 1}), FMT)
    assert argv[argv.index("-T") + 1] == "1"
    # PRSS while a party holds at most 20 PRSS keys (sets of m - t parties), unless told
    assert "--no-prss" not in mpyc_argv(_ctx(7), FMT)
    assert "--no-prss" in mpyc_argv(_ctx(8), FMT)
    assert "--no-prss" not in mpyc_argv(_ctx(9, options={"prss": True}), FMT)
    assert "--no-prss" in mpyc_argv(_ctx(3, options={"prss": False}), FMT)


@pytest.mark.parametrize(("parties", "threshold"), [(2, 0), (3, 1), (4, 1), (16, 7)])
def test_default_threshold_is_mpycs_own(parties, threshold):
    case = _case(parties=parties)
    MpycBackend.validate(case)
    sec = MpycBackend.security(case)
    assert sec["threshold"] == threshold
    assert sec["protocol"] == "Shamir secret sharing (MPyC)"
    assert sec["provider"] == "none (PRSS/Shamir, no dealer)"
    assert sec["adversary"] == "semi-honest, honest majority (t < m/2)"
    assert ("note" in sec) == (threshold == 0)
    assert sec["randomness"].startswith("PRSS" if parties <= 7 else "t+1")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"parties": 1}, "2 to 16 parties"),
        ({"parties": 17}, "2 to 16 parties"),
        ({"parties": 4, "options": {"threshold": 2}}, "2t < m"),
        ({"options": {"threshold": -1}}, "2t < m"),
        ({"options": {"provider": "TTP"}}, "unknown mpyc options"),
        ({"options": {"frac_bits": 13}}, "frac_bits < bit_length - 1"),
        ({"options": {"weight_frac_bits": 0}}, "weight_frac_bits"),
        ({"options": {"bit_length": 64}}, "above 40"),
        ({"options": {"tuned": True}}, "unknown mpyc options"),
        ({"options": {"variant": "fast"}}, "variant must be one of stock, tuned"),
        ({"options": {"prss": "no"}}, "prss must be true or false"),
    ],
)
def test_validate_rejects(kw, message):
    with pytest.raises(Unsupported, match=message):
        MpycBackend.validate(_case(**kw))


def test_stock_by_default_tuned_as_a_named_variant():
    resolved = MpycBackend.resolve(_case(parties=3))
    assert resolved == {"threshold": 1, "bit_length": 14, "frac_bits": 7,
                        "weight_frac_bits": 10, "variant": "stock", "prss": True}
    assert MpycBackend.resolve(_case(options={"variant": "tuned"}))["variant"] == "tuned"
    assert MpycBackend.security(_case(parties=3))["tuned_changes"] == []
    changes = MpycBackend.security(_case(parties=3, options={"variant": "tuned"}))
    assert changes["variant"] == "tuned"
    assert any("opened once" in c and "fewer messages" in c for c in changes["tuned_changes"])
    no_prss = _case(parties=3, options={"variant": "tuned", "prss": False})
    assert any("as stock" in c for c in MpycBackend.security(no_prss)["tuned_changes"])


def test_value_range_is_the_compared_range():
    assert MpycBackend.value_range(_case()) == 64.0
    assert MpycBackend.value_range(_case(options={"bit_length": 20, "frac_bits": 10})) == 512.0


def test_run_info_records_the_number_format(backend):
    info = backend.run_info()
    tuned = backend._net.variant == "tuned"
    assert info["threshold"] == 0 and info["prss"]
    assert info["variant"] == ("tuned" if tuned else "stock")
    assert info["speedups"] == tuned
    assert info["truncation"].startswith("PRSS" if tuned else "MPyC")
    assert (info["bit_length"], info["frac_bits"], info["weight_frac_bits"]) == (14, 7, 10)
    assert info["prime_bits"] > info["bit_length"] + info["weight_frac_bits"] + info["sec_param"]


@pytest.mark.parametrize("depth", [1, 9, 288, 9216])
def test_limb_products_are_exact(depth):
    p = (1 << 61) - 1
    shape_a, shape_b = (3, depth), (depth, 4)
    a = np.array([secrets.randbelow(p) for _ in range(np.prod(shape_a))], dtype=object)
    b = np.array([secrets.randbelow(p) for _ in range(np.prod(shape_b))], dtype=object)
    a, b = a.reshape(shape_a), b.reshape(shape_b)
    bits = modmat.limb_bits(depth)
    count = modmat.limb_count(61, bits)
    assert depth * (1 << bits) ** 2 <= 2**53
    got = modmat.matmul(modmat.to_limbs(a, bits, count), modmat.to_limbs(b, bits, count), bits)
    assert (got == a @ b).all()


def test_linear_matches_plaintext(backend):
    rng = np.random.default_rng(1)
    layers = [L.Flatten(), _linear(rng, 12, 5)]
    x = torch.from_numpy(rng.normal(0, 1, (3, 1, 3, 4)))
    want = _plain(layers, x)
    got = _secure(backend, layers, x)
    # inputs round to half a unit, weights to 2**-11, the product once more to a unit
    assert torch.allclose(got, want, atol=12 * ULP)


@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (2, 1), (1, 2)])
def test_conv2d_matches_plaintext(backend, stride, padding):
    rng = np.random.default_rng(stride + 10 * padding)
    layers = [_conv(rng, 2, 3, 3, stride, padding)]
    x = torch.from_numpy(rng.normal(0, 1, (2, 2, 7, 6)))
    want = _plain(layers, x)
    got = _secure(backend, layers, x)
    assert got.shape == want.shape
    assert torch.allclose(got, want, atol=24 * ULP)


def test_relu_sign_and_maxpool_match_plaintext(backend):
    # values on the fixed-point grid, so comparisons see exactly what torch sees
    rng = np.random.default_rng(2)
    x = torch.from_numpy(rng.integers(-600, 600, (2, 3, 5, 7)) * ULP)
    for layers in ([L.ReLU()], [L.Sign()], [L.MaxPool2d(2)], [L.MaxPool2d(3)],
                   [L.MaxPool2d(2), L.ReLU(), L.Flatten()]):
        want = _plain(layers, x)
        got = _secure(backend, layers, x)
        assert got.shape == want.shape, layers
        assert torch.equal(got, want), layers


def test_sign_of_zero_is_plus_one(backend):
    x = torch.tensor([[0.0, -ULP, ULP, -3.0]], dtype=torch.float64)
    assert _secure(backend, [L.Sign()], x).tolist() == [[1.0, -1.0, 1.0, -1.0]]


def test_small_network_end_to_end(backend):
    # (no Sign here: a rounding step may flip a pre-activation near zero)
    rng = np.random.default_rng(3)
    layers = [_conv(rng, 1, 4, 3), L.MaxPool2d(2), L.ReLU(), L.Flatten(),
              _linear(rng, 4 * 3 * 3, 6), L.ReLU(), _linear(rng, 6, 3)]
    x = torch.from_numpy(rng.normal(0, 1, (4, 1, 8, 8)))
    want = _plain(layers, x)
    got = _secure(backend, layers, x)
    assert torch.allclose(got, want, atol=0.05)


def test_without_prss_mpycs_own_truncation_matches_plaintext():
    other = MpycBackend()
    other.setup(_ctx(1, options={"prss": False, "variant": "tuned"}))
    try:
        assert other.run_info()["truncation"].startswith("MPyC resharing")
        rng = np.random.default_rng(4)
        layers = [L.Flatten(), _linear(rng, 12, 5), L.ReLU(), _linear(rng, 5, 3)]
        x = torch.from_numpy(rng.normal(0, 1, (3, 1, 3, 4)))
        assert torch.allclose(_secure(other, layers, x), _plain(layers, x), atol=16 * ULP)
    finally:
        other.teardown()


def test_large_batches_run_in_groups_of_images(backend, monkeypatch):
    from mpcbench.parties.mpyc import network

    monkeypatch.setattr(network, "_GROUP_COMPARISONS", 1)  # one image at a time
    monkeypatch.setattr(network, "_COMPARE_CHUNK", 16)
    rng = np.random.default_rng(5)
    layers = [_conv(rng, 1, 2, 3), L.MaxPool2d(2), L.ReLU(), L.Flatten(), _linear(rng, 8, 3)]
    x = torch.from_numpy(rng.normal(0, 1, (3, 1, 6, 6)))
    assert torch.allclose(_secure(backend, layers, x), _plain(layers, x), atol=0.05)


def test_pooling_and_residual_sums_match_plaintext(backend, branching_graph):
    x = torch.from_numpy(np.random.default_rng(6).normal(0, 1, (2, 2, 7, 7)))
    model = backend.share_model(branching_graph)
    got = backend.reveal(backend.infer(model, backend.share_input(x.numpy(), x.shape, 0)), 0)
    assert torch.allclose(torch.from_numpy(got), plain.evaluate(branching_graph, x),
                          atol=16 * ULP)


def test_unknown_layer_is_named(backend):
    class Softmax:
        pass

    graph = _chain([L.Flatten(), Softmax()], torch.zeros(1, 4))
    with pytest.raises(Unsupported, match=r"mpyc cannot evaluate node 1 \(1\): Softmax"):
        MpycBackend.check_graph(graph)
    with pytest.raises(L.UnsupportedLayer, match="Softmax"):
        backend.infer(backend.share_model(graph), backend.share_input(np.ones((1, 4)), (1, 4), 0))


def test_setup_again_in_the_same_process_gets_a_fresh_runtime(backend):
    other = MpycBackend()
    other.setup(_ctx(1, options={"bit_length": 20, "frac_bits": 10}))
    try:
        assert other.run_info()["bit_length"] == 20
        x = torch.tensor([[1.5, -2.25]], dtype=torch.float64)
        assert _secure(other, [L.ReLU()], x).tolist() == [[1.5, 0.0]]
    finally:
        other.teardown()


@pytest.mark.parametrize("bound", [1 << 12, 1 << 46, 1 << 64, 1 << 70, (1 << 70) + 1])
def test_tuned_prss_values_are_mpycs_own(speedups_on, bound):
    from mpyc import thresha

    speedups = speedups_on
    prf = thresha.PRF(secrets.token_bytes(16), bound)
    tuned = prf(b"uci", (7, 300))
    speedups.disable()
    try:
        stock = prf(b"uci", (7, 300))
    finally:
        speedups.enable()
    assert tuned.shape == stock.shape and (tuned == stock).all()
    assert all(type(v) is int for v in tuned.flat)


@pytest.mark.parametrize("bound", [3, 1000003, (1 << 59) - 55, (1 << 62) - 57])
def test_tuned_prss_field_elements_reduce_sixteen_bytes(speedups_on, bound):
    from hashlib import shake_128

    from mpyc import thresha

    prf = thresha.PRF(secrets.token_bytes(16), bound)
    got = prf(b"uci", (3, 5000))
    words = np.frombuffer(shake_128(prf.key + b"uci").digest(16 * 15000), dtype="<u8")
    want = [(int(hi) << 64 | int(lo)) % bound for lo, hi in words.reshape(-1, 2)]
    assert got.reshape(-1).tolist() == want
    assert all(type(v) is int for v in got.flat)
    if bound > 1000:
        assert abs(np.mean(got.astype(float)) / bound - 0.5) < 0.02


@pytest.mark.parametrize(("t", "m"), [(0, 2), (1, 3), (2, 5)])
def test_tuned_resharing_is_a_shamir_sharing(speedups_on, t, m):
    from mpyc import finfields, thresha

    speedups = speedups_on

    field = finfields.GF(finfields.find_prime_root(59, n=2)[0])
    secret = field.array(np.arange(1000, dtype=object) * 12345)
    shares = speedups.np_random_split(field, secret, t, m)
    assert shares.shape == (m, 1000)
    for subset in ([*range(t + 1)], [*range(m - t - 1, m)]):
        points = [(i + 1, shares[i]) for i in subset]
        assert (thresha.np_recombine(field, points).value == secret.value).all()
    if t:  # random: t shares reveal nothing fixed, and two sharings differ
        again = speedups.np_random_split(field, secret, t, m)
        assert (again[0] != shares[0]).any()
    draws = speedups.uniform_below(field.order, 20000)
    assert 0 <= min(draws) and max(draws) < field.order
    assert abs(np.mean(draws.astype(float)) / field.order - 0.5) < 0.02
