"""The adversarially trained complex encoder: signed features, fakes, discriminator."""

import math

import pytest
import torch

from mpcbench import data
from mpcbench.baselines.complex import adversarial as adv
from mpcbench.baselines.complex import mean_phase
from mpcbench.baselines.complex import model as cx


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One torch thread: the complex convolutions crawl with two threads on a busy host."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def batch():
    return data.load("mnist", "train", limit=64)


def test_encoder_features_are_signed_and_processing_still_commutes():
    model = adv.AdversarialComplexNet().eval()
    x = torch.randn(4, 1, 28, 28)
    assert (model.encoder(x) < 0).any()
    z, theta = model.encode(x)
    torch.testing.assert_close(model.processing(cx.rotate(z, theta)),
                               cx.rotate(model.processing(z), theta), atol=1e-5, rtol=1e-4)


def test_fakes_are_the_features_rotated_back_by_a_wrong_angle():
    a, b = torch.randn(5, 32, 26, 26), torch.randn(5, 32, 26, 26)
    theta = 2 * math.pi * torch.rand(5)
    real, fakes = adv.real_and_fakes(cx.rotate(torch.complex(a, b), theta), theta, k=3)
    torch.testing.assert_close(real, a, atol=1e-5, rtol=1e-5)
    assert fakes.shape == (10, 32, 26, 26)
    for i, fake in enumerate(fakes):  # fake = a cos d + b sin d: solve for (cos d, sin d)
        basis = torch.stack([a[i % 5].flatten(), b[i % 5].flatten()], 1)
        cos, sin = torch.linalg.lstsq(basis, fake.flatten().unsqueeze(1)).solution.flatten()
        assert float(cos**2 + sin**2) == pytest.approx(1, abs=1e-4)
        assert float(sin) > 0  # d in (0, pi)


def test_discriminator_loss_moves_during_training(batch):
    x, y = batch
    model, disc = adv.AdversarialComplexNet(), adv.discriminator()
    before = [p.detach().clone() for p in disc.parameters()]
    history = adv.train(model, disc, x, y, epochs=1, batch=16)
    assert len(history.discriminator) == 4
    assert all(math.isfinite(v) for v in history.discriminator + history.fooling)
    assert max(history.discriminator) - min(history.discriminator) > 1e-3
    assert any(not torch.equal(p, q) for p, q in zip(before, disc.parameters(), strict=True))


def test_fooling_loss_reaches_the_encoder(batch):
    x, y = batch
    weights = []
    for adv_weight in (0.0, 1.0):
        torch.manual_seed(0)
        model, disc = adv.AdversarialComplexNet(), adv.discriminator()
        adv.train(model, disc, x[:16], y[:16], epochs=1, batch=16, adv_weight=adv_weight)
        weights.append(model.encoder[0].weight.detach())
    assert not torch.allclose(weights[0], weights[1])


def test_attack_figures_small(batch):
    x, y = batch
    model = adv.AdversarialComplexNet().eval()
    out = adv.attack_figures(model, "mnist", x[:48], x[48:], y[48:], attack_images=8,
                             ks=(2,), attacker_epochs=1)
    assert 0 <= out["accuracy"] <= 1
    assert set(out["attack_mse_by_k"]) == {2}
    assert 0 < out["attack_mse_phase"] < 1 and 0 < out["attack_mse_mean_phase"] < 1


def test_mean_phase_recovers_the_angle_of_signed_features_with_a_mean():
    means = torch.rand(32) + 0.5
    a = torch.randn(6, 32, 26, 26) + means.view(1, -1, 1, 1)
    b = torch.randn(6, 32, 26, 26) + means.view(1, -1, 1, 1)
    theta = 2 * math.pi * torch.rand(6)
    z = cx.rotate(torch.complex(a, b), theta)
    err = torch.remainder(mean_phase.estimate_angle(z, means) - theta + math.pi, 2 * math.pi)
    assert float((err - math.pi).abs().max()) < 0.05
    assert (a < 0).any()  # the widest-empty-arc estimate has no empty arc to find here


def test_channel_means_are_per_channel():
    encoder = torch.nn.Conv2d(1, 3, 3)
    x = torch.randn(5, 1, 28, 28)
    torch.testing.assert_close(mean_phase.channel_means(encoder, x),
                               encoder(x).detach().mean(dim=(0, 2, 3)))
