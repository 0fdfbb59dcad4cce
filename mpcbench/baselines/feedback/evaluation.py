"""The feedback baseline's figures: clean, noisy, FGSM and PGD accuracy of CNN-F, of the
same weights without feedback cycles and of the plain cnn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ... import data, models
from ...models import WEIGHTS_DIR
from ..cache import save_evaluation
from .model import NAME, load
from .robustness import EPS, PGD_STEPS, SIGMA, robustness


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
    model = load(dataset, weights_dir)
    no_feedback = load(dataset, weights_dir)
    no_feedback.cycles = 0
    cnn = models.load_trained("cnn", dataset, weights_dir)
    xt, yt = data.load(dataset, "test")
    result = {"cycles": model.cycles, "residual": model.residual, "sigma": sigma, "eps": eps,
              "pgd_steps": pgd_steps, "adversarial_images": adversarial_limit}
    for name, net in (("cnnf", model), ("cnnf_no_feedback", no_feedback), ("cnn", cnn)):
        result[name] = robustness(net, xt, yt, dataset, sigma, eps, pgd_steps, adversarial_limit)
    return save_evaluation(NAME, dataset, result, weights_dir)


#: test images of a run that measures robustness itself (``measure_attack=true``)
RUN_IMAGES = 64


def run_figures(model, dataset: str, images: int = RUN_IMAGES, sigma: float = SIGMA,
                eps: float = EPS, pgd_steps: int = PGD_STEPS) -> dict[str, dict[str, float]]:
    """Robustness of ``model`` (as configured) and of the plain cnn on the first ``images``
    test images (every figure on the same images)."""
    cnn = models.load_trained("cnn", dataset)
    xt, yt = data.load(dataset, "test", limit=images)
    return {name: robustness(net, xt, yt, dataset, sigma, eps, pgd_steps, images)
            for name, net in (("cnnf", model), ("cnn", cnn))}
