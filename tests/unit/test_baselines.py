"""The non-MPC baselines: complex rotation network, CNN-F feedback, attacks."""

import json
import math
import shutil

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import mpcbench.baselines.cache as cache
from mpcbench import data, models
from mpcbench.baselines.cache import cache_key, code_version, evaluation_path, load_evaluation
from mpcbench.baselines.complex import inversion
from mpcbench.baselines.complex import model as cx
from mpcbench.baselines.feedback import model as cnnf
from mpcbench.baselines.perturb import fgsm, gaussian, pgd, to_pixels


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _complex_features(n=4, c=32, hw=26):
    return torch.complex(torch.randn(n, c, hw, hw), torch.randn(n, c, hw, hw))


@pytest.mark.parametrize("training", [False, True])
def test_processing_commutes_with_rotation(training):
    model = cx.build().train(training)
    z = _complex_features()
    theta = torch.tensor([0.3, 1.7, math.pi, 5.9])
    rotated_first = model.processing(cx.rotate(z, theta))
    rotated_after = cx.rotate(model.processing(z), theta)
    assert rotated_first.shape == (4, 64, 12, 12)
    torch.testing.assert_close(rotated_first, rotated_after, atol=1e-5, rtol=1e-4)
    # ... while a ReLU applied to real and imaginary parts separately does not commute.
    split = lambda t: torch.complex(t.real.relu(), t.imag.relu())  # noqa: E731
    assert not torch.allclose(split(cx.rotate(z, theta)), cx.rotate(split(z), theta), atol=1e-2)


def test_complex_relu_and_pool_act_on_the_norm():
    z = torch.tensor([[[[3 + 4j, 0.3j], [-0.1, 1 - 1j]]]], dtype=torch.cfloat)
    relu = cx.ComplexReLU(threshold=1.0)(z)
    torch.testing.assert_close(relu.angle()[z.abs() > 0], z.angle()[z.abs() > 0])
    torch.testing.assert_close(relu[0, 0, 0, 0], z[0, 0, 0, 0])  # norm 5 > c: kept
    torch.testing.assert_close(relu[0, 0, 0, 1], z[0, 0, 0, 1] * 0.3)  # norm 0.3 < c: shrunk
    assert cx.ComplexMaxPool2d(2)(z).item() == 3 + 4j


def test_decoder_recovers_the_unrotated_logits():
    model = cx.build().eval()
    x = torch.randn(6, 1, 28, 28)
    with torch.no_grad():
        a = model.encoder(x)
        plain = model.decoder(model.processing(torch.complex(a, a.roll(1, 0))).real)
        for seed in (1, 2):
            z, theta = model.encode(x, generator=torch.Generator().manual_seed(seed))
            assert not torch.allclose(z.real, a)  # what the server sees is rotated
            torch.testing.assert_close(model.decode(model.processing(z), theta), plain,
                                       atol=1e-4, rtol=1e-4)


def test_single_image_needs_fake_features():
    model = cx.build().eval()
    with pytest.raises(ValueError, match="second image"):
        model.encode(torch.randn(1, 1, 28, 28))
    z, _ = model.encode(torch.randn(1, 1, 28, 28), fake=torch.rand(1, 32, 26, 26))
    assert z.shape == (1, 32, 26, 26)


def _zero_biases(model):
    with torch.no_grad():
        for mod in (model.conv1, model.conv2, model.fc1, model.fc2):
            mod.bias.zero_()


def test_feedback_is_the_transposed_forward_path():
    """Without biases, feedback from ``y`` is ``J(x)^T y``: transposed weights, forward
    ReLU masks and max-pool indices (autograd computes the same product independently)."""
    model = cnnf.build()
    _zero_biases(model)
    x = torch.randn(3, 1, 28, 28, requires_grad=True)
    state = model.up(x)
    recon = model.down(state)
    (vjp,) = torch.autograd.grad(state.logits, x, grad_outputs=state.logits.detach())
    torch.testing.assert_close(recon.image, vjp, atol=1e-5, rtol=1e-4)
    # The image is the conv1 weight transposed applied to the reconstructed block 1, and
    # changing that forward weight changes the feedback accordingly.
    with torch.no_grad():
        model.conv1.weight.mul_(2)
        again = model.down(state)
    torch.testing.assert_close(again.image, F.conv_transpose2d(again.block1, model.conv1.weight))
    torch.testing.assert_close(again.block1, recon.block1)


def test_feedback_cycles_move_the_input():
    model = cnnf.build(cycles=2, residual=0.5).eval()
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        run = model.run(x)
        assert not torch.allclose(run.final.logits, run.first.logits)
        torch.testing.assert_close(model.run(x, cycles=0).final.logits, run.first.logits)
        terms = cnnf.losses(model, x, x + 0.1, torch.tensor([1, 2]))
    assert set(terms) == {"ce_forward", "ce_feedback", "mse_image", "mse_block1", "mse_block2"}
    assert all(torch.isfinite(v) for v in terms.values())


@pytest.fixture(scope="module")
def tiny_classifier():
    """A linear classifier trained for a few steps on 2000 MNIST images."""
    torch.manual_seed(0)
    x, y = data.load("mnist", "train", limit=2000)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for idx in torch.randperm(2000).split(100):
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    return model.eval()


def _acc(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def test_attacks_lower_accuracy_within_the_pixel_budget(tiny_classifier):
    x, y = data.load("mnist", "test", limit=500)
    clean = _acc(tiny_classifier, x, y)
    adv_f = fgsm(tiny_classifier, x, y, 0.1, "mnist")
    adv_p = pgd(tiny_classifier, x, y, 0.1, "mnist", steps=5)
    assert clean > 0.8
    assert _acc(tiny_classifier, adv_f, y) < clean - 0.2
    assert _acc(tiny_classifier, adv_p, y) <= _acc(tiny_classifier, adv_f, y) + 0.02
    for adv in (adv_f, adv_p, gaussian(x, 0.3, "mnist")):
        px = to_pixels(adv, "mnist")
        assert px.min() >= -1e-6 and px.max() <= 1 + 1e-6
    for adv in (adv_f, adv_p):
        assert (to_pixels(adv, "mnist") - to_pixels(x, "mnist")).abs().max() <= 0.1 + 1e-5


def test_inversion_attack_on_tiny_data():
    model = cx.build().eval()
    x, _ = data.load("mnist", "train", limit=128)
    attacker = inversion.train_attacker(model.encoder, x[:96], "mnist", epochs=1, batch=32)
    plain = inversion.plain_mse(attacker, model.encoder, x[96:], "mnist")
    by_k = inversion.rotated_mse(attacker, model, x[96:], "mnist", ks=(1, 2, 4))
    assert math.isfinite(plain) and 0 < plain < 1
    assert all(math.isfinite(v) and 0 < v < 1 for v in by_k.values())
    # The candidate sets are nested (0; 0, pi; multiples of pi/2): more guesses never hurt.
    assert by_k[4] <= by_k[2] <= by_k[1]


def test_phase_support_reveals_the_secret_angle():
    """Non-negative a and b put every phase in [theta, theta + pi/2]: theta leaks."""
    model = cx.build().eval()
    x, _ = data.load("mnist", "test", limit=4)
    with torch.no_grad():
        z, theta = model.encode(x)
    err = (inversion.estimate_angle(z) - theta + math.pi) % (2 * math.pi) - math.pi
    assert err.abs().max() < 1e-5


def test_cached_evaluation_belongs_to_all_its_inputs(tmp_path):
    for f in ("complex-mnist.pt", "cnn-mnist.pt", "MANIFEST.json"):
        shutil.copy(models.WEIGHTS_DIR / f, tmp_path / f)
    key = cache_key("complex", "mnist", tmp_path)
    assert set(key) == {"weights_sha256", "cnn_weights_sha256", "code_sha256"}
    path = evaluation_path("complex", "mnist", tmp_path)
    assert path.name == "complex-mnist.eval.json"
    assert load_evaluation("complex", "mnist", tmp_path) is None
    path.write_text(json.dumps({**key, "attack_mse": 0.1}))
    assert load_evaluation("complex", "mnist", tmp_path)["attack_mse"] == 0.1
    for changed in ("weights_sha256", "cnn_weights_sha256", "code_sha256"):
        path.write_text(json.dumps({**key, changed: "0" * 64, "attack_mse": 0.1}))
        assert load_evaluation("complex", "mnist", tmp_path) is None, changed
    # the cnn the figures are compared with is part of the key: other cnn weights, no cache
    path.write_text(json.dumps({**key, "attack_mse": 0.1}))
    with (tmp_path / "cnn-mnist.pt").open("ab") as fh:
        fh.write(b"x")
    assert load_evaluation("complex", "mnist", tmp_path) is None


def test_code_version_follows_the_evaluation_source(monkeypatch, tmp_path):
    from mpcbench.baselines.feedback import robustness

    before = code_version("cnnf")
    assert before == code_version("cnnf") and before != code_version("complex")
    fake = tmp_path / "robustness.py"
    fake.write_text("# changed\n")
    monkeypatch.setattr(robustness, "__file__", str(fake))
    assert code_version("cnnf") != before


def test_the_cached_evaluation_code_is_what_the_registry_s_baselines_declare():
    from mpcbench.baselines.complex import adversarial
    from mpcbench.baselines.feedback.backend import FeedbackBackend
    from mpcbench.parties import registry
    from mpcbench.parties.base import Kind

    baselines = [cls for cls in registry().values() if cls.kind is Kind.BASELINE]
    assert {cls.model_module.NAME for cls in baselines} <= set(cache.evaluation_code())
    assert adversarial.WEIGHTS_NAME in cache.evaluation_code()
    # a party reads its own backend's declaration: the same version as the registry's
    assert code_version("cnnf", FeedbackBackend.evaluation_code) == code_version("cnnf")
    assert code_version("split-dp0.5") == code_version("split")


def test_baselines_declare_which_figures_come_from_the_cache():
    from mpcbench.baselines.complex.backend import ComplexBackend
    from mpcbench.baselines.feedback.backend import FeedbackBackend
    from mpcbench.case import Case

    cached = Case("complex", "complex", parties=2)
    measured = Case("complex", "complex", parties=2, options={"measure_attack": True})
    assert "attack_mse" in ComplexBackend.cached_metrics(cached)
    assert ComplexBackend.cached_metrics(measured) == frozenset()
    assert ComplexBackend.resolve(measured)["measure_attack"] is True
    assert "cnn_accuracy_pgd" in FeedbackBackend.cached_metrics(Case("feedback", "cnnf", 1))
