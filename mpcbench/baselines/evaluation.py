"""Expensive baseline figures (attacker training, adversarial accuracy), computed once per
trained weights and cached as JSON next to them, so benchmark runs only read them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import data, models
from ..models import WEIGHTS_DIR, weights_info, weights_path
from ..models.train import accuracy
from ..models.train import train as train_model
from . import inversion
from .robustness import EPS, PGD_STEPS, SIGMA, robustness

#: candidate angles tried by the attacker, and the count behind the headline ``attack_mse``
ATTACK_KS, ATTACK_K = (1, 2, 4, 8, 16), 2
#: training and test images of the inversion attacker
ATTACK_TRAIN, ATTACK_TEST = 10000, 1000
#: split of the plain cnn that matches the complex encoder: conv1 + ReLU
CNN_SPLIT = 2


def evaluation_path(name: str, dataset: str, weights_dir: Path = WEIGHTS_DIR) -> Path:
    """``data/weights/<name>-<dataset>.eval.json``."""
    return weights_path(name, dataset, weights_dir).with_suffix(".eval.json")


def load_evaluation(
    name: str, dataset: str, weights_dir: Path = WEIGHTS_DIR
) -> dict[str, Any] | None:
    """Cached figures of ``name`` on ``dataset``; ``None`` if missing or made for other weights."""
    path = evaluation_path(name, dataset, weights_dir)
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    try:
        digest = weights_info(name, dataset, weights_dir).sha256
    except models.ModelError:
        return None
    return result if result.get("weights_sha256") == digest else None


def _save(name: str, dataset: str, result: dict[str, Any], weights_dir: Path) -> dict[str, Any]:
    result = {
        "model": name,
        "dataset": dataset,
        "weights_sha256": weights_info(name, dataset, weights_dir).sha256,
        "cnn_weights_sha256": weights_info("cnn", dataset, weights_dir).sha256,
        **result,
    }
    evaluation_path(name, dataset, weights_dir).write_text(json.dumps(result, indent=2) + "\n")
    return result


def evaluate_complex(
    dataset: str,
    ks: tuple[int, ...] = ATTACK_KS,
    train_images: int = ATTACK_TRAIN,
    test_images: int = ATTACK_TEST,
    epochs: int = 2,
    weights_dir: Path = WEIGHTS_DIR,
) -> dict[str, Any]:
    """Accuracy and inversion-attack MSE of the complex cnn vs the plain cnn's features."""
    model = models.load_trained("complex", dataset, weights_dir)
    cnn = models.load_trained("cnn", dataset, weights_dir)
    x, _ = data.load(dataset, "train", limit=train_images)
    xt, yt = data.load(dataset, "test")
    plain_features = cnn[:CNN_SPLIT]
    plain = inversion.train_attacker(plain_features, x, dataset, epochs)
    rotated = inversion.train_attacker(model.encoder, x, dataset, epochs)
    by_k = inversion.rotated_mse(rotated, model, xt[:test_images], dataset, ks)
    result = {
        "test_accuracy": accuracy(model, xt, yt),
        "cnn_test_accuracy": accuracy(cnn, xt, yt),
        "attack_k": ATTACK_K,
        "attack_mse": by_k[ATTACK_K],
        "attack_mse_by_k": {str(k): v for k, v in by_k.items()},
        "attack_mse_phase": inversion.phase_mse(rotated, model, xt[:test_images], dataset),
        "cnn_attack_mse": inversion.plain_mse(plain, plain_features, xt[:test_images], dataset),
        "attack_setting": {
            "train_images": train_images, "test_images": test_images, "epochs": epochs
        },
    }
    return _save("complex", dataset, result, weights_dir)


def evaluate_feedback(
    dataset: str,
    sigma: float = SIGMA,
    eps: float = EPS,
    pgd_steps: int = PGD_STEPS,
    adversarial_limit: int = 1000,
    weights_dir: Path = WEIGHTS_DIR,
) -> dict[str, Any]:
    """Clean / noisy / FGSM / PGD accuracy of CNN-F, of the same weights without feedback
    cycles (what the noisy training alone gives) and of the plain cnn."""
    model = models.load_trained("cnnf", dataset, weights_dir)
    no_feedback = models.load_trained("cnnf", dataset, weights_dir)
    no_feedback.cycles = 0
    cnn = models.load_trained("cnn", dataset, weights_dir)
    xt, yt = data.load(dataset, "test")
    result = {"cycles": model.cycles, "residual": model.residual, "sigma": sigma, "eps": eps,
              "pgd_steps": pgd_steps, "adversarial_images": adversarial_limit}
    for name, net in (("cnnf", model), ("cnnf_no_feedback", no_feedback), ("cnn", cnn)):
        result[name] = robustness(net, xt, yt, dataset, sigma, eps, pgd_steps, adversarial_limit)
    return _save("cnnf", dataset, result, weights_dir)


def ensure_trained(name: str, dataset: str) -> None:
    """Train ``name`` on ``dataset`` (with its module's own recipe) if it has no weights."""
    try:
        weights_info(name, dataset)
    except models.ModelError:
        train_model(name, dataset)


def evaluate_all(dataset: str, refresh: bool = False) -> dict[str, dict[str, Any]]:
    """Train what is missing, evaluate both baselines (reusing cached figures of the same
    weights unless ``refresh``) and cache the figures."""
    for name in ("cnn", "complex", "cnnf"):
        ensure_trained(name, dataset)
    cached = {name: None if refresh else load_evaluation(name, dataset)
              for name in ("complex", "cnnf")}
    return {
        "complex": cached["complex"] or evaluate_complex(dataset),
        "cnnf": cached["cnnf"] or evaluate_feedback(dataset),
    }
