"""``python -m mpcbench.baselines [--dataset D ...] [--refresh]``: train what is missing,
evaluate every baseline, cache the figures next to the weights and print them beside the
references."""

from __future__ import annotations

import argparse

import torch

from .. import data, models
from .cache import ensure_trained, load_evaluation
from .complex import adversarial
from .complex import evaluation as complex_evaluation
from .complex import model as complex_model
from .feedback import evaluation as feedback_evaluation
from .feedback import model as feedback_model
from .split import evaluation as split_evaluation
from .split import model as split_model
from .vae import evaluation as vae_evaluation
from .vae import model as vae_model

#: figures of the reference studies (privacy: LeNet / CIFAR-10; robustness: Fashion-MNIST)
REFERENCE = {
    "attack_mse": "0.2353 (complex) vs 0.0769 (plain), LeNet / CIFAR-10",
    "robustness": "clean / noisy 0.780 / 0.888 (CNN-F) vs 0.923 / 0.839 (CNN), Fashion-MNIST",
    "split": "attack MSE 0.041; noise 0.7 / 0.5 / 0.3: epsilon 4.0 / 12.5 / 84.7, accuracy "
             "0.37 / 0.45 / 0.56 (20-class Omniglot)",
}


def evaluate_all(dataset: str, refresh: bool = False) -> dict[str, dict]:
    """Train what is missing, evaluate both baselines (reusing cached figures of the same
    weights unless ``refresh``) and cache the figures."""
    ensure_trained("cnn", dataset)
    for mod in (complex_model, feedback_model):
        ensure_trained(mod.NAME, dataset, mod)
    cached = {mod.NAME: None if refresh else load_evaluation(mod.NAME, dataset)
              for mod in (complex_model, feedback_model)}
    # one training writes every setting's weights: trained if the last setting's exist
    ensure_trained(split_model.weights_name(split_model.NOISE_SETTINGS[-1]), dataset,
                   split_model)
    ensure_trained(vae_model.weights_name(*vae_model.SETTINGS[-1]), dataset, vae_model)
    split = {s: None if refresh else load_evaluation(split_model.weights_name(s), dataset)
             for s in split_model.NOISE_SETTINGS}
    vae = {s: None if refresh else load_evaluation(vae_model.weights_name(*s), dataset)
           for s in vae_model.SETTINGS}
    try:
        models.weights_info(adversarial.WEIGHTS_NAME, dataset)
    except models.ModelError:
        adversarial.train_weights(dataset)
    adv = None if refresh else load_evaluation(adversarial.WEIGHTS_NAME, dataset)
    if not all(split.values()):
        split = split_evaluation.evaluate_trained(dataset)
    if not all(vae.values()):
        vae = vae_evaluation.evaluate_trained(dataset)
    return {
        "complex": cached["complex"] or complex_evaluation.evaluate_complex(dataset),
        "cnnf": cached["cnnf"] or feedback_evaluation.evaluate_feedback(dataset),
        "complex_adversarial": adv or adversarial.evaluate_trained(dataset),
        "split": split,
        "vae": vae,
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
    ad = figures["complex_adversarial"]
    lines.append(
        f"complex, adversarial encoder: test accuracy {ad['accuracy']:.4f}; inversion MSE "
        + ", ".join(f"k={k}: {v:.4f}" for k, v in ad["attack_mse_by_k"].items())
        + f"; widest-arc phase {ad['attack_mse_phase']:.4f}; mean phase "
        f"{ad['attack_mse_mean_phase']:.4f}")
    lines.append(f"split (attacker on disjoint {dataset} / on "
                 f"{split_evaluation.OTHER_DATASET[dataset]} images):")
    for sigma, r in figures["split"].items():
        lines.append(f"  noise {sigma:g}: epsilon {r['epsilon']:.2f}  accuracy "
                     f"{r['test_accuracy']:.4f}  attack MSE {r['attack_mse']:.4f} / "
                     f"{r['attack_mse_cross_data']:.4f}")
    lines.append(f"  reference: {REFERENCE['split']}")
    lines.append("vae (certified radius at tolerance 1; mean attack damage per radius):")
    for (sigma, noise), r in figures["vae"].items():
        damage = ", ".join(f"r={k}: {v:.3f}" for k, v in r["attack_damage"].items())
        lines.append(f"  sigma_enc {sigma:g} input noise {noise:g}: radius "
                     f"{r['certified_radius']:.2e}  {damage}  held {r['certificate_held']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Evaluate the baselines on the given datasets and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", action="append", choices=sorted(data.VENDORED),
                        help="dataset (repeatable; default: all)")
    parser.add_argument("--refresh", action="store_true",
                        help="recompute figures even if cached for the current weights")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for dataset in args.dataset or sorted(data.VENDORED):
        print(report(dataset, evaluate_all(dataset, args.refresh)), flush=True)


if __name__ == "__main__":
    main()
