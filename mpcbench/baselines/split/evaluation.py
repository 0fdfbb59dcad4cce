"""Accuracy, inversion-attack MSE and epsilon of the split cnn, trained plainly and with
DP-SGD at several noise multipliers.

The target trains on training images ``[0, train_images)``; the attacker, who knows the
client half, trains its decoder on the next ``attacker_images`` training images (a slice
disjoint from the target's data) and is scored on test images no model has seen.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch

from ... import data
from ...models import WEIGHTS_DIR, read_manifest, weights_path
from ...models.train import accuracy, fit
from .. import inversion
from ..cache import save_evaluation
from ..perturb import to_pixels
from . import model as split_model
from .figure import plot_reconstructions
from .private import CLIP, DELTA, NOISE_MULTIPLIERS, epsilon, train_private

#: target and attacker training images, attacked test images, images in the figure
TRAIN_IMAGES, ATTACKER_IMAGES, ATTACK_IMAGES, FIGURE_IMAGES = 10000, 10000, 1000, 8
#: epochs of the target (plain and DP-SGD) and of the attacker; batch of both trainings
EPOCHS, ATTACKER_EPOCHS, BATCH = 2, 2, 64
#: noise multiplier 0 stands for plain training (Adam, no clipping, no noise: epsilon inf)
SETTINGS = (0.0, *sorted(NOISE_MULTIPLIERS))


def train_target(
    dataset: str,
    noise_multiplier: float,
    train_images: int,
    epochs: int,
    batch: int,
    max_steps: int | None,
    seed: int,
) -> tuple[split_model.SplitNet, float, int, float]:
    """``(model, epsilon, steps, seconds)``: plain training for noise 0, else DP-SGD."""
    torch.manual_seed(seed)
    net = split_model.build()
    if noise_multiplier == 0:
        result = fit(net, "split", dataset, epochs, batch, seed=seed, limit=train_images,
                     save=False)
        steps = epochs * math.ceil(train_images / batch)
        return net.eval(), math.inf, steps, result.seconds
    x, y = data.load(dataset, "train", limit=train_images)
    private = train_private(net, x, y, noise_multiplier, epochs, batch, max_steps=max_steps,
                            seed=seed)
    return private.model, private.epsilon, private.steps, private.seconds


def evaluate(
    dataset: str = "mnist",
    noise_multipliers: tuple[float, ...] = SETTINGS,
    train_images: int = TRAIN_IMAGES,
    attacker_images: int = ATTACKER_IMAGES,
    attack_images: int = ATTACK_IMAGES,
    test_images: int | None = None,
    epochs: int = EPOCHS,
    attacker_epochs: int = ATTACKER_EPOCHS,
    batch: int = BATCH,
    max_steps: int | None = None,
    figure: Path | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Per noise multiplier: ``accuracy`` (first ``test_images`` test images, default all),
    ``attack_mse`` (pixels in [0, 1], first ``attack_images`` test images), ``epsilon``
    (at :data:`DELTA`; inf for plain training), ``steps`` and ``train_seconds``.

    ``max_steps`` bounds the DP-SGD steps (small runs); ``figure`` is a PNG path for
    originals beside each setting's reconstructions.
    """
    x_all, _ = data.load(dataset, "train", limit=train_images + attacker_images)
    x_attacker = x_all[train_images:]
    xt, yt = data.load(dataset, "test", limit=test_images)
    x_attack = xt[:attack_images]
    rows, recon = [], {}
    for sigma in noise_multipliers:
        net, eps, steps, seconds = train_target(dataset, sigma, train_images, epochs, batch,
                                                max_steps, seed)
        start = time.perf_counter()
        attacker = inversion.train_attacker(net.client, x_attacker, dataset, attacker_epochs,
                                            batch, seed=seed)
        attacker_seconds = time.perf_counter() - start
        rows.append({
            "noise_multiplier": sigma,
            "epsilon": eps,
            "accuracy": accuracy(net, xt, yt),
            "attack_mse": inversion.plain_mse(attacker, net.client, x_attack, dataset),
            "steps": steps,
            "train_seconds": seconds,
            "attacker_seconds": attacker_seconds,
        })
        with torch.no_grad():
            label = "plain" if sigma == 0 else f"noise {sigma}\neps {eps:.1f}"
            recon[label] = attacker(net.client(x_attack[:FIGURE_IMAGES]))
    if figure is not None:
        plot_reconstructions(to_pixels(x_attack[:FIGURE_IMAGES], dataset), recon, figure)
    return {
        "dataset": dataset,
        "rows": rows,
        "figure": None if figure is None else str(figure),
        "activation_bytes": split_model.ACTIVATION_BYTES,
        "setting": {
            "train_images": train_images, "attacker_images": attacker_images,
            "attack_images": attack_images, "test_images": len(xt), "epochs": epochs,
            "attacker_epochs": attacker_epochs, "batch": batch, "max_steps": max_steps,
            "clip": CLIP, "delta": DELTA, "seed": seed,
        },
    }


#: attacker images (a disjoint slice after the target's training images, and the same
#: count of the other dataset's), attacked test images and attacker epochs of the cache
CACHE_ATTACKER_IMAGES, CACHE_ATTACK_IMAGES, CACHE_ATTACKER_EPOCHS = 4000, 1000, 2
#: the same for a run that measures the attack itself (``measure_attack=true``)
RUN_ATTACKER_IMAGES, RUN_ATTACK_IMAGES, RUN_ATTACKER_EPOCHS = 512, 64, 1
#: the attacker's other data set: Fashion-MNIST against an MNIST target and vice versa
OTHER_DATASET = {"mnist": "fashion", "fashion": "mnist"}


def attack_figures(net: split_model.SplitNet, dataset: str, train_images: int,
                   attacker_images: int, attack_images: int, epochs: int,
                   seed: int = 0) -> dict[str, Any]:
    """Inversion-attack MSE (pixels in [0, 1]) on the first ``attack_images`` test images
    of an attacker trained on ``attacker_images`` training images disjoint from the
    target's first ``train_images`` (``attack_mse``) and of one trained on the other
    dataset's first ``attacker_images`` (``attack_mse_cross_data``); ``attacker``: the
    reconstructions of the first :data:`FIGURE_IMAGES` attacked images (pixels)."""
    x_own = data.load(dataset, "train", limit=train_images + attacker_images)[0]
    other = OTHER_DATASET[dataset]
    x_other = data.load(other, "train", limit=attacker_images)[0]
    # the other data set's images as the target's client sees them: same pixels, own scaling
    x_other = _normalised(to_pixels(x_other, other), dataset)
    x_attack = data.load(dataset, "test", limit=attack_images)[0]
    out: dict[str, Any] = {"attack_setting": {
        "train_images": train_images, "attacker_images": attacker_images,
        "attack_images": len(x_attack), "attacker_epochs": epochs, "seed": seed,
        "cross_dataset": other}}
    for metric, x_attacker in (("attack_mse", x_own[train_images:]),
                               ("attack_mse_cross_data", x_other)):
        attacker = inversion.train_attacker(net.client, x_attacker, dataset, epochs, BATCH,
                                            seed=seed)
        out[metric] = inversion.plain_mse(attacker, net.client, x_attack, dataset)
        if metric == "attack_mse":
            with torch.no_grad():
                out["reconstructions"] = attacker(net.client(x_attack[:FIGURE_IMAGES]))
    out["originals"] = to_pixels(x_attack[:FIGURE_IMAGES], dataset)
    return out


def _normalised(pixels: torch.Tensor, dataset: str) -> torch.Tensor:
    """Pixel images normalised as ``dataset``'s inputs are."""
    mean, std = data.NORMALISATION[dataset]
    return (pixels - mean) / std


def figure_path(dataset: str, weights_dir: Path = WEIGHTS_DIR) -> Path:
    """``data/weights/split-<dataset>.reconstructions.png``."""
    return Path(weights_dir) / f"{split_model.NAME}-{dataset}.reconstructions.png"


def evaluate_trained(
    dataset: str,
    noise_multipliers: tuple[float, ...] = split_model.NOISE_SETTINGS,
    attacker_images: int = CACHE_ATTACKER_IMAGES,
    attack_images: int = CACHE_ATTACK_IMAGES,
    epochs: int = CACHE_ATTACKER_EPOCHS,
    weights_dir: Path = WEIGHTS_DIR,
) -> dict[float, dict[str, Any]]:
    """Cache the figures of the trained split weights at each noise multiplier
    (:func:`attack_figures`, test accuracy on the whole test set, epsilon recomputed by the
    accountant from the training record) and write the reconstruction figure
    (:func:`figure_path`); noise multiplier -> what was cached."""
    xt, yt = data.load(dataset, "test")
    manifest = read_manifest(weights_dir)
    results, recon, originals = {}, {}, None
    for sigma in noise_multipliers:
        name = split_model.weights_name(sigma)
        net = split_model.load(dataset, sigma, weights_dir)
        record = manifest.get(weights_path(name, dataset, weights_dir).name, {})
        figures = attack_figures(net, dataset, int(record.get("train_images",
                                                              split_model.TRAIN_IMAGES)),
                                 attacker_images, attack_images, epochs)
        originals = figures.pop("originals")
        eps = training_epsilon(record)
        recon["plain" if sigma == 0 else f"noise {sigma:g}\neps {eps:.1f}"] = figures.pop(
            "reconstructions")
        results[sigma] = save_evaluation(name, dataset, {
            "noise_multiplier": sigma, "epsilon": eps,
            "test_accuracy": accuracy(net, xt, yt), **figures}, weights_dir)
    plot_reconstructions(originals, recon, figure_path(dataset, weights_dir))
    return results


def training_epsilon(record: dict[str, Any]) -> float:
    """Epsilon of the DP-SGD training a weights-manifest entry records (RDP accountant at
    its delta); inf for plain training (no entry ``noise_multiplier``)."""
    if not record.get("noise_multiplier"):
        return math.inf
    return epsilon(record["noise_multiplier"], record["sample_rate"], record["steps"],
                   record["delta"])
