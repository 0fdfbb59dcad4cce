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
from ...models.train import accuracy, fit
from .. import inversion
from ..perturb import to_pixels
from . import model as split_model
from .figure import plot_reconstructions
from .private import CLIP, DELTA, NOISE_MULTIPLIERS, train_private

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
