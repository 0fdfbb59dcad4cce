"""The complex cnn with the original method's adversarially trained encoder.

Two changes to :class:`~mpcbench.baselines.complex.model.ComplexNet`: the encoder features ``a``
are signed (the first conv without its ReLU), so the phases of ``exp(i theta)(a + i b)``
cover the whole circle instead of a quarter arc starting at ``theta``; and a discriminator
learns to tell the real features ``a`` from ``k - 1`` fakes, the received tensor rotated
back by a wrong angle, ``Re(exp(-i (theta + d)) z) = a cos d + b sin d`` with
``d ~ U(0, pi)``, while the encoder is trained, beside the task loss, to make it take real
features for fakes and fakes for real ones. Once it succeeds, an attacker cannot tell the
right angle from a wrong one by looking at the back-rotated features.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ... import data
from ...models import WEIGHTS_DIR, WeightsInfo, load_weights, save_weights
from ...models.train import accuracy
from ..cache import save_evaluation
from . import inversion, mean_phase
from . import model as complex_model
from .evaluation import ATTACK_KS as CACHE_KS
from .evaluation import ATTACK_TEST, ATTACK_TRAIN
from .model import DEFAULT_EPOCHS, DEFAULT_LIMIT, LR, ComplexNet, rotate

#: real features plus ``K - 1`` fakes per image (the reproduction settled on k = 2)
K = 2
#: weight of the fooling loss beside the cross entropy
ADV_WEIGHT = 1.0
#: candidate angles of the learned attacker that the evaluation reports
ATTACK_KS = (2, 8)


class AdversarialComplexNet(ComplexNet):
    """The complex cnn with signed encoder features."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 32, 3, 1))


def discriminator(channels: int = 32) -> nn.Sequential:
    """Logit that a ``[N, channels, 26, 26]`` feature tensor is the real one."""
    return nn.Sequential(
        nn.Conv2d(channels, 32, 3, stride=2),
        nn.LeakyReLU(0.2),
        nn.Conv2d(32, 64, 3, stride=2),
        nn.LeakyReLU(0.2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 1),
    )


def real_and_fakes(z: torch.Tensor, theta: torch.Tensor, k: int = K
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The features rotated back by the true angle and, stacked, by ``k - 1`` wrong ones
    ``theta + d`` with ``d ~ U(0, pi)``."""
    real = rotate(z, -theta).real
    fakes = [rotate(z, -theta - math.pi * torch.rand(len(z))).real for _ in range(k - 1)]
    return real, torch.cat(fakes)


def _bce(logits: torch.Tensor, label: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))


@dataclass
class History:
    """Per-step losses of :func:`train`."""

    discriminator: list[float] = field(default_factory=list)
    task: list[float] = field(default_factory=list)
    fooling: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train(
    model: AdversarialComplexNet,
    disc: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int = DEFAULT_EPOCHS,
    batch: int = 128,
    lr: float = LR,
    k: int = K,
    adv_weight: float = ADV_WEIGHT,
    seed: int = 0,
) -> History:
    """Alternate per batch: one Adam step of the discriminator on real vs fake features,
    then one of the network on cross entropy plus ``adv_weight`` times the fooling loss
    (the discriminator's loss with real and fake labels swapped)."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    disc_opt = torch.optim.Adam(disc.parameters(), lr=lr)
    history, start = History(), time.perf_counter()
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(batch):
            z, theta = model.encode(x[idx])
            real, fakes = real_and_fakes(z, theta, k)
            disc_opt.zero_grad()
            d_loss = (_bce(disc(real.detach()), 1) + _bce(disc(fakes.detach()), 0)) / 2
            d_loss.backward()
            disc_opt.step()
            opt.zero_grad()
            task = F.cross_entropy(model.decode(model.processing(z), theta), y[idx])
            fooling = (_bce(disc(real), 0) + _bce(disc(fakes), 1)) / 2
            (task + adv_weight * fooling).backward()
            opt.step()
            history.discriminator.append(float(d_loss.detach()))
            history.task.append(float(task.detach()))
            history.fooling.append(float(fooling.detach()))
    model.eval()
    history.seconds = time.perf_counter() - start
    return history


def attack_figures(
    model: ComplexNet,
    dataset: str,
    x_attacker: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    attack_images: int = ATTACK_TEST,
    ks: tuple[int, ...] = ATTACK_KS,
    attacker_epochs: int = 2,
    seed: int = 0,
) -> dict[str, Any]:
    """``accuracy`` on ``x_test``; MSE (pixels) of the learned attacker (trained on the
    encoder features of ``x_attacker``) best of ``k`` angles for each ``k`` in ``ks``
    (``attack_mse_by_k``), after the angle estimated from the widest empty arc of the
    phases (``attack_mse_phase``) and from their mean (``attack_mse_mean_phase``, channel
    means measured on ``x_attacker``), on the first ``attack_images`` test images."""
    attacker = inversion.train_attacker(model.encoder, x_attacker, dataset, attacker_epochs,
                                        seed=seed)
    xa = x_test[:attack_images]
    return {
        "accuracy": accuracy(model, x_test, y_test),
        "attack_mse_by_k": inversion.rotated_mse(attacker, model, xa, dataset, ks, seed),
        "attack_mse_phase": inversion.phase_mse(attacker, model, xa, dataset, seed),
        "attack_mse_mean_phase": mean_phase.mean_phase_mse(
            attacker, model, mean_phase.channel_means(model.encoder, x_attacker), xa, dataset,
            seed),
    }


def evaluate(
    dataset: str = "mnist",
    epochs: int = DEFAULT_EPOCHS,
    limit: int = DEFAULT_LIMIT,
    attacker_images: int = ATTACK_TRAIN,
    attack_images: int = ATTACK_TEST,
    ks: tuple[int, ...] = ATTACK_KS,
    k: int = K,
    adv_weight: float = ADV_WEIGHT,
    seed: int = 0,
    save: Path | None = None,
    weights: Path | None = None,
) -> dict[str, Any]:
    """Train the adversarial encoder on the first ``limit`` training images and compare it
    with the trained ``complex`` weights (:func:`attack_figures` for both, same attacker
    data: the first ``attacker_images`` training images, as the complex evaluation).
    ``save``: where to write the adversarial network's ``state_dict``; ``weights``: such a
    file to evaluate instead of training (no discriminator losses then)."""
    x, y = data.load(dataset, "train", limit=max(limit, attacker_images))
    xt, yt = data.load(dataset, "test")
    torch.manual_seed(seed)
    model, disc = AdversarialComplexNet(), discriminator()
    if weights is None:
        history = train(model, disc, x[:limit], y[:limit], epochs, k=k,
                        adv_weight=adv_weight, seed=seed)
    else:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        model.eval()
        history = History()
    if save is not None:
        Path(save).parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), save)
    current = complex_model.load(dataset)
    figures = {name: attack_figures(net, dataset, x[:attacker_images], xt, yt, attack_images,
                                    ks, seed=seed)
               for name, net in (("current", current), ("adversarial", model))}
    d_loss, tail = history.discriminator, max(1, len(history.discriminator) // 10)
    return {
        "dataset": dataset,
        **figures,
        "discriminator_loss_first": sum(d_loss[:tail]) / tail if d_loss else None,
        "discriminator_loss_last": sum(d_loss[-tail:]) / tail if d_loss else None,
        "train_seconds": history.seconds,
        "weights": None if weights is None else str(weights),
        "setting": {"epochs": epochs, "train_images": limit, "k": k, "adv_weight": adv_weight,
                    "attacker_images": attacker_images, "attack_images": attack_images,
                    "seed": seed},
    }


#: weights of the adversarially trained network (``data/weights/complex-adv-<dataset>.pt``)
WEIGHTS_NAME = "complex-adv"
#: its training images and epochs (short: a CPU run of a few minutes), attacker images of
#: its cached figures and the test images of its cached accuracy
TRAIN_IMAGES, TRAIN_EPOCHS, CACHE_ATTACKER_IMAGES, CACHE_TEST_IMAGES = 3000, 1, 4000, 2000


def load(dataset: str, weights_dir: Path = WEIGHTS_DIR) -> AdversarialComplexNet:
    """The trained adversarial complex cnn of ``dataset``, in eval mode."""
    return load_weights(AdversarialComplexNet(), WEIGHTS_NAME, dataset, weights_dir)


def train_weights(dataset: str, epochs: int = TRAIN_EPOCHS, limit: int = TRAIN_IMAGES,
                  seed: int = 0, weights_dir: Path = WEIGHTS_DIR) -> WeightsInfo:
    """Train the adversarial network (:func:`train`) on the first ``limit`` training images
    and save it as :data:`WEIGHTS_NAME` with its test accuracy and discriminator losses."""
    x, y = data.load(dataset, "train", limit=limit)
    xt, yt = data.load(dataset, "test")
    torch.manual_seed(seed)
    model, disc = AdversarialComplexNet(), discriminator()
    history = train(model, disc, x, y, epochs, seed=seed)
    tail = max(1, len(history.discriminator) // 10)
    meta = {"test_accuracy": accuracy(model, xt, yt), "epochs": epochs, "seed": seed,
            "train_seconds": round(history.seconds, 1), "train_images": len(x), "k": K,
            "adv_weight": ADV_WEIGHT,
            "discriminator_loss_first": sum(history.discriminator[:tail]) / tail,
            "discriminator_loss_last": sum(history.discriminator[-tail:]) / tail}
    return save_weights(model, WEIGHTS_NAME, dataset, meta, weights_dir)


def cached_figures(model: ComplexNet, dataset: str, attacker_images: int, test_images: int,
                   attack_images: int, ks: tuple[int, ...], attacker_epochs: int
                   ) -> dict[str, Any]:
    """:func:`attack_figures` on the first ``attacker_images`` training and ``test_images``
    test images, angle counts as string keys (as JSON stores them) and the setting."""
    x, _ = data.load(dataset, "train", limit=attacker_images)
    xt, yt = data.load(dataset, "test", limit=test_images)
    figures = attack_figures(model, dataset, x, xt, yt, attack_images, ks, attacker_epochs)
    figures["attack_mse_by_k"] = {str(k): v for k, v in figures["attack_mse_by_k"].items()}
    return {**figures, "attack_setting": {
        "train_images": attacker_images, "test_images": min(attack_images, len(xt)),
        "accuracy_images": len(xt), "epochs": attacker_epochs}}


def evaluate_trained(dataset: str, weights_dir: Path = WEIGHTS_DIR) -> dict[str, Any]:
    """Cache the figures of the trained adversarial network (every angle count of the
    complex evaluation, both phase attackers)."""
    figures = cached_figures(load(dataset, weights_dir), dataset, CACHE_ATTACKER_IMAGES,
                             CACHE_TEST_IMAGES, ATTACK_TEST, CACHE_KS, 2)
    return save_evaluation(WEIGHTS_NAME, dataset, figures, weights_dir)


def main(argv: list[str] | None = None) -> None:
    """``python -m mpcbench.baselines.complex.adversarial [--dataset D] [--epochs E]
    [--limit N] [--adv-weight W] [--save PATH | --weights PATH]``: train (or load) the
    adversarial encoder and print it beside the current one."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--dataset", default="mnist", choices=sorted(data.VENDORED))
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT)
    parser.add_argument("--adv-weight", type=float, default=ADV_WEIGHT)
    parser.add_argument("--save", type=Path, help="state_dict path of the trained network")
    parser.add_argument("--weights", type=Path, help="evaluate this state_dict, no training")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    figures = evaluate(args.dataset, args.epochs, args.limit, adv_weight=args.adv_weight,
                       save=args.save, weights=args.weights)
    print(json.dumps(figures, indent=2), flush=True)


if __name__ == "__main__":
    main()
