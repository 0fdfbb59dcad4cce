"""``python -m mpcbench.baselines [--dataset D ...] [--refresh]``: train what is missing,
evaluate both baselines, cache the figures next to the weights and print them beside the
references."""

from __future__ import annotations

import argparse

import torch

from .. import data
from .cache import ensure_trained, load_evaluation
from .complex import evaluation as complex_evaluation
from .complex import model as complex_model
from .feedback import evaluation as feedback_evaluation
from .feedback import model as feedback_model

#: figures of the reference studies (privacy: LeNet / CIFAR-10; robustness: Fashion-MNIST)
REFERENCE = {
    "attack_mse": "0.2353 (complex) vs 0.0769 (plain), LeNet / CIFAR-10",
    "robustness": "clean / noisy 0.780 / 0.888 (CNN-F) vs 0.923 / 0.839 (CNN), Fashion-MNIST",
}


def evaluate_all(dataset: str, refresh: bool = False) -> dict[str, dict]:
    """Train what is missing, evaluate both baselines (reusing cached figures of the same
    weights unless ``refresh``) and cache the figures."""
    ensure_trained("cnn", dataset)
    for mod in (complex_model, feedback_model):
        ensure_trained(mod.NAME, dataset, mod)
    cached = {mod.NAME: None if refresh else load_evaluation(mod.NAME, dataset)
              for mod in (complex_model, feedback_model)}
    return {
        "complex": cached["complex"] or complex_evaluation.evaluate_complex(dataset),
        "cnnf": cached["cnnf"] or feedback_evaluation.evaluate_feedback(dataset),
    }


def report(dataset: str, figures: dict) -> str:
    """Readable summary of :func:`evaluate_all`'s figures."""
    cx, fb = figures["complex"], figures["cnnf"]
    by_k = ", ".join(f"k={k}: {v:.4f}" for k, v in cx["attack_mse_by_k"].items())
    lines = [
        f"== {dataset}",
        f"complex: test accuracy {cx['test_accuracy']:.4f} (cnn {cx['cnn_test_accuracy']:.4f})",
        f"  inversion MSE (pixels in [0,1]): plain cnn features {cx['cnn_attack_mse']:.4f}; "
        f"rotated features, best of k angles: {by_k}; angle estimated from the phases: "
        f"{cx['attack_mse_phase']:.4f}",
        f"  reference: {REFERENCE['attack_mse']}",
        f"cnnf (cycles {fb['cycles']}, residual {fb['residual']}; noise sigma {fb['sigma']}, "
        f"eps {fb['eps']}, PGD {fb['pgd_steps']} steps on {fb['adversarial_images']} images):",
    ]
    for name in ("cnnf", "cnnf_no_feedback", "cnn"):
        r = fb[name]
        lines.append(
            f"  {name:16s} clean {r['accuracy_clean']:.4f}  noisy {r['accuracy_noisy']:.4f}  "
            f"fgsm {r['accuracy_fgsm']:.4f}  pgd {r['accuracy_pgd']:.4f}"
        )
    lines.append(f"  reference: {REFERENCE['robustness']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Evaluate the baselines on the given datasets and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", action="append", choices=sorted(data.DATASETS),
                        help="dataset (repeatable; default: all)")
    parser.add_argument("--refresh", action="store_true",
                        help="recompute figures even if cached for the current weights")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for dataset in args.dataset or sorted(data.DATASETS):
        print(report(dataset, evaluate_all(dataset, args.refresh)), flush=True)


if __name__ == "__main__":
    main()
