"""Figures of the VAE baseline per training setting: Lipschitz bounds, certified radius,
maximum-damage attack against the bound at several radii, and whether the certificate
held on every attacked image.

All distances are L2 norms in pixel units (images in [0, 1], 784 pixels; an MNIST digit
has norm about 9). The study's noise std 0.5 / 1.0 on inputs in [-1, 1] is 0.25 / 0.5
here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ... import data
from ..perturb import to_pixels
from . import attack, lipschitz
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
