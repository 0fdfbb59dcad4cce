"""The VAE baseline: spectral-norm Lipschitz bounds, certificate, maximum-damage attack."""

import pytest
import torch
from torch import nn

from mpcbench import data
from mpcbench.baselines.perturb import to_pixels
from mpcbench.baselines.vae import attack, evaluation, lipschitz
from mpcbench.baselines.vae.model import VAE
from mpcbench.baselines.vae.train import train

TINY = {"latent": 4, "hidden": 32, "depth": 1}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def tiny_vae():
    """A tiny VAE trained briefly on MNIST, and 16 test images (pixels)."""
    torch.manual_seed(0)
    x = to_pixels(data.load("mnist", "train", limit=1000)[0], "mnist")
    model = VAE(0.5, **TINY)
    train(model, x, epochs=3, batch=64)
    return model, to_pixels(data.load("mnist", "test", limit=16)[0], "mnist")


def test_bound_is_the_product_of_exact_spectral_norms():
    net = nn.Sequential(nn.Linear(30, 20), nn.ReLU(), nn.Linear(20, 10))
    norms = lipschitz.spectral_norms(net)
    for got, layer in zip(norms, (net[0], net[2]), strict=True):
        assert got == pytest.approx(float(torch.linalg.svdvals(layer.weight.detach().double())[0]))
    assert lipschitz.lipschitz_bound(net) == pytest.approx(norms[0] * norms[1])
    a, b = torch.randn(100, 30), torch.randn(100, 30)
    with torch.no_grad():
        ratio = (net(a) - net(b)).norm(dim=1) / (a - b).norm(dim=1)
    assert float(ratio.max()) <= lipschitz.lipschitz_bound(net)


def test_layers_without_a_bound_are_refused():
    with pytest.raises(lipschitz.UnboundedLayer):
        lipschitz.spectral_norms(nn.Sequential(nn.Linear(3, 3), nn.Sigmoid()))


def test_certificate_radius_meets_the_tolerance():
    cert = lipschitz.Certificate(encoder=4.0, decoder=5.0)
    assert cert.reconstruction == 20.0
    assert cert.bound(cert.radius(0.5)) == pytest.approx(0.5)


def test_attack_stays_in_the_ball_and_beats_random_noise(tiny_vae):
    model, x = tiny_vae
    radius = 2.0
    adv, damage = attack.max_damage(model, x, radius, steps=20)
    assert float((adv - x.double()).flatten(1).norm(dim=1).max()) <= radius + 1e-9
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1
    noise = torch.randn_like(x)
    noisy = (x + radius * noise / noise.flatten(1).norm(dim=1).view(-1, 1, 1, 1)).clamp(0, 1)
    with torch.no_grad():
        random_damage = (model.reconstruct(noisy) - model.reconstruct(x)).flatten(1).norm(dim=1)
    assert (damage >= random_damage.double() - 1e-6).all()
    assert float(damage.mean()) > 1.5 * float(random_damage.mean())


def test_certificate_never_fails_on_a_tiny_trained_vae(tiny_vae):
    model, x = tiny_vae
    out = evaluation.evaluate_model(model, x, radii=(0.5, 2.0, 8.0), tolerance=1.0, steps=20)
    assert out["certificate_held"]
    for r, worst in out["attack_damage_max"].items():
        assert 0 < worst <= out["bound"][r]
    assert out["damage_at_certified_radius"] <= out["tolerance"]
    assert out["certified_radius"] == pytest.approx(1.0 / out["lipschitz_reconstruction"])
    assert out["empirical_lipschitz"] <= out["lipschitz_reconstruction"]


def test_evaluate_small():
    settings = (evaluation.Setting(0.5), evaluation.Setting(0.5, 0.25))
    out = evaluation.evaluate("mnist", settings, radii=(1.0,), train_images=256, epochs=1,
                              attack_images=8, attack_steps=5, **TINY)
    assert out["certificate_held"] and len(out["rows"]) == 2
    assert [r["input_noise"] for r in out["rows"]] == [0.0, 0.25]
    assert set(out["rows"][0]["attack_damage"]) == {1.0}
