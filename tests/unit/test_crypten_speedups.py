"""The CrypTen speedups: switchable, same-stream PRG, correct product sizes, same results."""

from __future__ import annotations

import pytest
import torch

from mpcbench.parties.crypten import speedups

pytestmark = pytest.mark.crypten


@pytest.fixture
def tuned(crypten_one_party):
    speedups.enable()
    yield crypten_one_party
    speedups.disable()


def test_enable_and_disable_swap_crypten_functions(crypten_one_party):
    from crypten.common import rng
    from crypten.mpc.primitives import arithmetic
    from crypten.mpc.provider.tfp_provider import TrustedFirstParty

    stock_rng, stock_triple = rng.generate_random_ring_element, TrustedFirstParty.square
    speedups.enable()
    speedups.enable()
    assert speedups.enabled()
    assert arithmetic.generate_random_ring_element is speedups.generate_random_ring_element
    assert TrustedFirstParty.square is not stock_triple
    speedups.disable()
    assert not speedups.enabled()
    assert rng.generate_random_ring_element is stock_rng
    assert arithmetic.generate_random_ring_element is stock_rng
    assert TrustedFirstParty.square is stock_triple


def test_generators_with_one_seed_give_one_stream(tuned):
    g1, g2 = torch.Generator(), torch.Generator()
    g1.manual_seed(1234)
    g2.manual_seed(1234)
    a = speedups.generate_random_ring_element((3, 4), generator=g1)
    assert a.dtype == torch.long and a.shape == (3, 4)
    assert torch.equal(a, speedups.generate_random_ring_element((3, 4), generator=g2))
    g2.manual_seed(99)
    assert not torch.equal(speedups.generate_random_ring_element((12,), generator=g1),
                           speedups.generate_random_ring_element((12,), generator=g2))


def test_kbit_tensors_stay_in_range(tuned):
    bits = speedups.generate_kbit_random_tensor((10_000,), bitlength=1)
    assert set(bits.unique().tolist()) == {0, 1}
    words = speedups.generate_kbit_random_tensor((10_000,))
    assert (words < 0).any() and (words > 0).any()  # the whole signed 64-bit ring


@pytest.mark.parametrize(
    ("op", "size0", "size1", "kwargs"),
    [
        ("conv2d", (8, 32, 26, 26), (64, 32, 3, 3), {"stride": 1, "padding": 0}),
        ("conv2d", (2, 3, 9, 7), (4, 3, 3, 2), {"stride": 2, "padding": 1}),
        ("conv1d", (2, 3, 9), (4, 3, 3), {"stride": (2,), "padding": (1,), "dilation": 2}),
        ("matmul", (8, 9216), (9216, 128), {}),
        ("matmul", (5,), (5, 3), {}),
        ("matmul", (2, 4, 5), (5, 3), {}),
        ("mul", (4, 1, 3), (5, 1), {}),
    ],
)
def test_product_sizes_match_torch(op, size0, size1, kwargs):
    expected = getattr(torch, op)(torch.zeros(size0), torch.zeros(size1), **kwargs).shape
    assert tuple(speedups._PRODUCT_SIZES[op](size0, size1, **kwargs)) == tuple(expected)


def test_secure_ops_still_correct(tuned):
    crypten = tuned
    torch.manual_seed(0)
    x, w = torch.randn(2, 3, 8, 8), torch.randn(4, 3, 3, 3)
    conv = crypten.cryptensor(x).conv2d(crypten.cryptensor(w), padding=1).get_plain_text()
    assert torch.allclose(conv, torch.conv2d(x, w, padding=1), atol=5e-3)
    y = crypten.cryptensor(x)
    assert torch.allclose((y * y).relu().get_plain_text(), x * x, atol=5e-3)
    assert torch.equal((y >= 0).get_plain_text().bool(), x >= 0)


def test_config_reads_follow_writes_and_overrides(tuned):
    cfg = tuned.cfg
    cfg["functions.max_method"] = "pairwise"
    assert cfg.functions.max_method == "pairwise"
    with cfg.temp_override({"functions.max_method": "log_reduction"}):
        assert cfg.functions.max_method == "log_reduction"
    assert cfg.functions.max_method == "pairwise"
    # CrypTen's documented section writes work and are seen by the next read
    cfg.functions.max_method = "log_reduction"
    assert cfg.functions.max_method == "log_reduction"
    assert cfg.config.functions.max_method == "log_reduction"
    section = cfg.mpc
    section.provider = "TTP"
    assert cfg.mpc.provider == "TTP" and cfg["mpc.provider"] == "TTP"
    cfg.mpc.provider = "TFP"
    assert cfg.mpc.provider == "TFP"
