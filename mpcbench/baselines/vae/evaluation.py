"""Figures of the VAE baseline per training setting: Lipschitz bounds, certified radius,
maximum-damage attack against the bound at several radii, and whether the certificate
held on every attacked image.

All distances are L2 norms in pixel units (images in [0, 1], 784 pixels; an MNIST digit
has norm about 9). The study's noise std 0.5 / 1.0 on inputs in [-1, 1] is 0.25 / 0.5
here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ... import data
from ...models import WEIGHTS_DIR
from ..cache import save_evaluation
from ..perturb import to_pixels
from . import attack, lipschitz
from . import model as vae_model
from .model import DEPTH, HIDDEN, LATENT, VAE
from .train import EPOCHS, train

#: attack radii (pixel L2) and the reconstruction tolerance of the certified radius
RADII, TOLERANCE = (0.5, 1.0, 2.0, 4.0), 1.0
#: test images attacked per setting
ATTACK_IMAGES = 200
#: relative slack for float64 rounding when comparing a damage with its bound
SLACK = 1e-9


@dataclass(frozen=True)
class Setting:
    """A training setting: fixed encoder std and std of the input noise (pixels)."""

    sigma_enc: float
    input_noise: float = 0.0


#: the study's settings: encoder std 0.1 / 0.5 / 1.0 without noise, and std 0.5 with noise
SETTINGS = (Setting(0.1), Setting(0.5), Setting(1.0), Setting(0.5, 0.25), Setting(0.5, 0.5))


def evaluate_model(
    model: VAE,
    x: torch.Tensor,
    radii: tuple[float, ...] = RADII,
    tolerance: float = TOLERANCE,
    steps: int = attack.STEPS,
    seed: int = 0,
) -> dict[str, Any]:
    """Certificate and attack figures of a trained ``model`` on pixel images ``x``.

    ``attack_damage`` / ``attack_damage_max``: mean / largest damage over the images per
    radius; ``bound``: the certified largest damage per radius; ``certificate_held``: no
    image's damage exceeded the bound at any radius, the certified radius included (where
    the bound is ``tolerance``).
    """
    cert = lipschitz.certify(model)
    radius = cert.radius(tolerance)
    with torch.no_grad():
        mse = float((model.reconstruct(x) - x).square().mean())
    damage, damage_max, bound, held = {}, {}, {}, True
    for r in radii:
        _, d = attack.max_damage(model, x, r, steps, seed)
        damage[r], damage_max[r], bound[r] = float(d.mean()), float(d.max()), cert.bound(r)
        held &= bool((d <= bound[r] * (1 + SLACK)).all())
    _, at_radius = attack.max_damage(model, x, radius, steps, seed)
    held &= bool((at_radius <= tolerance * (1 + SLACK)).all())
    return {
        "lipschitz_encoder": cert.encoder,
        "lipschitz_decoder": cert.decoder,
        "lipschitz_reconstruction": cert.reconstruction,
        "tolerance": tolerance,
        "certified_radius": radius,
        "damage_at_certified_radius": float(at_radius.max()),
        "attack_damage": damage,
        "attack_damage_max": damage_max,
        "bound": bound,
        "empirical_lipschitz": max(damage_max[r] / r for r in radii),
        "certificate_held": held,
        "reconstruction_mse": mse,
    }


def evaluate(
    dataset: str = "mnist",
    settings: tuple[Setting, ...] = SETTINGS,
    radii: tuple[float, ...] = RADII,
    tolerance: float = TOLERANCE,
    train_images: int | None = None,
    epochs: int = EPOCHS,
    attack_images: int = ATTACK_IMAGES,
    attack_steps: int = attack.STEPS,
    latent: int = LATENT,
    hidden: int = HIDDEN,
    depth: int = DEPTH,
    seed: int = 0,
) -> dict[str, Any]:
    """Train one VAE per setting on the first ``train_images`` training images (default
    all) and evaluate it (:func:`evaluate_model`) on the first ``attack_images`` test
    images; ``certificate_held`` at the top is True only if it held for every setting."""
    x = to_pixels(data.load(dataset, "train", limit=train_images)[0], dataset)
    xt = to_pixels(data.load(dataset, "test", limit=attack_images)[0], dataset)
    rows = []
    for s in settings:
        torch.manual_seed(seed)
        model = VAE(s.sigma_enc, latent, hidden, depth)
        seconds = train(model, x, epochs, input_noise=s.input_noise, seed=seed)
        rows.append({"sigma_enc": s.sigma_enc, "input_noise": s.input_noise,
                     "train_seconds": seconds,
                     **evaluate_model(model, xt, radii, tolerance, attack_steps, seed)})
    return {
        "dataset": dataset,
        "rows": rows,
        "certificate_held": all(r["certificate_held"] for r in rows),
        "setting": {"train_images": len(x), "epochs": epochs, "attack_images": len(xt),
                    "attack_steps": attack_steps, "latent": latent, "hidden": hidden,
                    "depth": depth, "seed": seed},
    }


#: attacked test images and ascent steps of a run that measures the attack itself
RUN_ATTACK_IMAGES, RUN_ATTACK_STEPS = 16, 20


def evaluate_trained(dataset: str, settings: tuple[tuple[float, float], ...] = vae_model.SETTINGS,
                     attack_images: int = ATTACK_IMAGES, steps: int = attack.STEPS,
                     weights_dir: Path = WEIGHTS_DIR) -> dict[tuple[float, float], dict]:
    """Cache :func:`evaluate_model`'s figures of the trained VAE of every setting
    ``(sigma_enc, input_noise)`` on the first ``attack_images`` test images."""
    xt = to_pixels(data.load(dataset, "test", limit=attack_images)[0], dataset)
    out = {}
    for sigma, noise in settings:
        model = vae_model.load(dataset, sigma, noise, weights_dir)
        figures = evaluate_model(model, xt, steps=steps)
        out[sigma, noise] = save_evaluation(
            vae_model.weights_name(sigma, noise), dataset,
            {"sigma_enc": sigma, "input_noise": noise, "attack_images": len(xt),
             "attack_steps": steps, **_json_keys(figures)}, weights_dir)
    return out


def _json_keys(figures: dict[str, Any]) -> dict[str, Any]:
    """Radius-keyed dicts with ``:g``-formatted string keys (as JSON stores them)."""
    return {k: {f"{r:g}": v for r, v in val.items()} if isinstance(val, dict) else val
            for k, val in figures.items()}


def run_figures(model: VAE, dataset: str, images: int = RUN_ATTACK_IMAGES,
                steps: int = RUN_ATTACK_STEPS) -> dict[str, Any]:
    """:func:`evaluate_model` on the first ``images`` test images with ``steps`` ascent
    steps (a run with ``measure_attack=true``), radius keys as in the cache."""
    xt = to_pixels(data.load(dataset, "test", limit=images)[0], dataset)
    return {**_json_keys(evaluate_model(model, xt, steps=steps)), "attack_images": len(xt),
            "attack_steps": steps}
