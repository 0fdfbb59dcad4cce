"""The complex baseline's figures: accuracy, and how well an inversion attacker recovers
the input from the features the server sees (best of k candidate angles, and with the
angle estimated from the phases), against the same attacker on the plain cnn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ... import data, models
from ...models import WEIGHTS_DIR
from ...models.train import accuracy
from ..cache import save_evaluation
from . import inversion
from .model import NAME, load

#: candidate angles tried by the attacker, and the count behind the headline ``attack_mse``
ATTACK_KS, ATTACK_K = (1, 2, 4, 8, 16), 2
#: training and test images of the inversion attacker
ATTACK_TRAIN, ATTACK_TEST = 10000, 1000
#: split of the plain cnn that matches the complex encoder: conv1 + ReLU
CNN_SPLIT = 2


#: attacker settings of a run that measures the attack itself (``measure_attack=true``)
RUN_ATTACK_TRAIN, RUN_ATTACK_TEST, RUN_ATTACK_EPOCHS = 512, 64, 1


def attack_figures(model, cnn, dataset: str, ks: tuple[int, ...], train_images: int,
                   test_images: int, epochs: int) -> dict[str, Any]:
    """Inversion-attack MSE against the complex features (best of each ``k`` angles, and
    with the angle estimated from the phases) and against the plain cnn's features."""
    x, _ = data.load(dataset, "train", limit=train_images)
    xt, _ = data.load(dataset, "test", limit=test_images)
    plain_features = cnn[:CNN_SPLIT]
    plain = inversion.train_attacker(plain_features, x, dataset, epochs)
    rotated = inversion.train_attacker(model.encoder, x, dataset, epochs)
    by_k = inversion.rotated_mse(rotated, model, xt, dataset, ks)
    return {
        "attack_mse_by_k": {str(k): v for k, v in by_k.items()},
        "attack_mse_phase": inversion.phase_mse(rotated, model, xt, dataset),
        "cnn_attack_mse": inversion.plain_mse(plain, plain_features, xt, dataset),
        "attack_setting": {
            "train_images": train_images, "test_images": test_images, "epochs": epochs
        },
    }


def evaluate_complex(
    dataset: str,
    ks: tuple[int, ...] = ATTACK_KS,
    train_images: int = ATTACK_TRAIN,
    test_images: int = ATTACK_TEST,
    epochs: int = 2,
    weights_dir: Path = WEIGHTS_DIR,
) -> dict[str, Any]:
    """Accuracy and inversion-attack MSE of the complex cnn vs the plain cnn's features."""
    model = load(dataset, weights_dir)
    cnn = models.load_trained("cnn", dataset, weights_dir)
    xt, yt = data.load(dataset, "test")
    figures = attack_figures(model, cnn, dataset, ks, train_images, test_images, epochs)
    result = {
        "test_accuracy": accuracy(model, xt, yt),
        "cnn_test_accuracy": accuracy(cnn, xt, yt),
        "attack_k": ATTACK_K,
        "attack_mse": figures["attack_mse_by_k"][str(ATTACK_K)],
        **figures,
    }
    return save_evaluation(NAME, dataset, result, weights_dir)
