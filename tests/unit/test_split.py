"""The split baseline: cnn halves, DP-SGD clipping / noise / accounting, figure, evaluation."""

import itertools
import math

import pytest
import torch
from torch import nn

from mpcbench.baselines.split import evaluation, figure, model, private

CLIP = 1.0


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_halves_are_the_cnn_layers():
    net = model.build().eval()
    x = torch.randn(3, 1, 28, 28)
    assert net.client(x).shape == (3, *model.ACTIVATION)
    assert model.ACTIVATION_BYTES == 4 * 32 * 26 * 26
    whole = nn.Sequential(*net.client, *net.server).eval()
    torch.testing.assert_close(net(x), whole(x))


def _tiny_batch(n=32, d=20, classes=50):
    """A linear classifier and a batch whose per-sample gradients exceed the clip norm."""
    lin = nn.Linear(d, classes)
    x = 3 * torch.randn(n, d)
    y = torch.randint(0, classes, (n,))
    return lin, x, y


def _per_sample_grads(lin, x, y):
    """Analytic per-sample gradients of the cross entropy of a linear layer: [n, W + b]."""
    with torch.no_grad():
        err = torch.softmax(lin(x), 1) - nn.functional.one_hot(y, lin.out_features)
    return torch.cat([torch.einsum("nc,nd->ncd", err, x).flatten(1), err], 1)


def _dp_gradient(lin, x, y, noise_multiplier):
    """The gradient the DP optimizer hands to Adam for the whole batch (sample rate 1)."""
    module, optimizer, _, _ = private.make_private(lin, x, y, noise_multiplier, batch=len(x),
                                                   max_grad_norm=CLIP)
    optimizer.zero_grad()
    nn.functional.cross_entropy(module(x), y).backward()
    samples = torch.cat([p.grad_sample.flatten(1) for p in (lin.weight, lin.bias)], 1)
    optimizer.pre_step()
    return samples, torch.cat([lin.weight.grad.flatten(), lin.bias.grad])


def _clipped(grads):
    return grads * (CLIP / grads.norm(dim=1, keepdim=True)).clamp(max=1)


def test_dp_sgd_clips_per_sample_gradients():
    lin, x, y = _tiny_batch()
    expected = _per_sample_grads(lin, x, y)
    samples, grad = _dp_gradient(lin, x, y, noise_multiplier=0.0)
    torch.testing.assert_close(samples, expected, atol=1e-5, rtol=1e-4)
    assert (expected.norm(dim=1) > CLIP).all()  # clipping matters for every sample
    clipped = _clipped(expected)
    assert (clipped.norm(dim=1) <= CLIP + 1e-5).all()
    torch.testing.assert_close(grad, clipped.mean(0), atol=1e-6, rtol=1e-4)
    assert not torch.allclose(grad, expected.mean(0), atol=1e-3)


def test_dp_sgd_adds_noise_of_the_expected_scale():
    lin, x, y = _tiny_batch()
    clipped_sum = _clipped(_per_sample_grads(lin, x, y)).sum(0)
    sigma = 0.5
    _, grad = _dp_gradient(lin, x, y, noise_multiplier=sigma)
    noise = grad * len(x) - clipped_sum  # the optimizer divides the noisy sum by the batch
    assert abs(float(noise.mean())) < 0.1 * sigma * CLIP
    assert float(noise.std()) == pytest.approx(sigma * CLIP, rel=0.1)


def test_epsilon_decreases_as_noise_grows_and_matches_the_study():
    q, steps = 32 / 13180, 20 * 13180 // 32  # the study's 13180 images, batch 32, 20 epochs
    eps = [private.epsilon(s, q, steps) for s in (0.3, 0.5, 0.7, 1.0)]
    assert all(a > b for a, b in itertools.pairwise(eps))
    for got, study in zip(eps, (84.7, 12.5, 4.0), strict=False):
        assert got == pytest.approx(study, rel=0.2)


def test_train_private_accounts_the_steps_it_took():
    lin, x, y = _tiny_batch(n=256)
    result = private.train_private(lin, x, y, 0.7, epochs=5, batch=32, max_steps=3)
    assert result.steps == 3
    assert result.model is lin and not hasattr(lin.weight, "grad_sample")
    assert result.epsilon == pytest.approx(private.epsilon(0.7, 32 / 256, 3))


def test_reconstruction_figure_is_written(tmp_path):
    originals = torch.rand(4, 1, 28, 28)
    path = figure.plot_reconstructions(
        originals, {"plain": originals.flip(0), "noise 0.5": torch.rand(4, 1, 28, 28)},
        tmp_path / "sub" / "recon.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


def test_evaluate_small(tmp_path):
    out = evaluation.evaluate(
        "mnist", noise_multipliers=(0.5,), train_images=64, attacker_images=64,
        attack_images=8, test_images=32, epochs=1, attacker_epochs=1, batch=32, max_steps=2,
        figure=tmp_path / "split.png")
    (row,) = out["rows"]
    assert row["noise_multiplier"] == 0.5 and row["steps"] == 2
    assert math.isfinite(row["epsilon"]) and row["epsilon"] > 0
    assert 0 <= row["accuracy"] <= 1 and 0 < row["attack_mse"] < 1
    assert (tmp_path / "split.png").stat().st_size > 0
