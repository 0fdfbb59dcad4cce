"""``python -m mpcbench.baselines.vae [--dataset D] [--epochs E] [...]``: train the VAE in
every setting, bound its Lipschitz constants, attack it and print the figures beside the
study's Lipschitz bounds."""

from __future__ import annotations

import argparse

import torch

from ... import data
from . import attack
from . import evaluation as ev

#: the study's (LipSDP) bounds on CelebA / its reference paper's, for the decoder (encoder
#: std settings) and the encoder (input-noise settings, std on inputs in [-1, 1])
REFERENCE = ("CelebA LipSDP (reference paper): decoder 472006 (13.7) / 90355 (12.0) / "
             "305223 (7.5) at encoder std 0.1 / 0.5 / 1.0; encoder 42843 (1.8) / "
             "104673 (1.6) / 390468 (1.4) at input noise 0 / 0.5 / 1.0")


def report(figures: dict) -> str:
    """Readable table of :func:`~mpcbench.baselines.vae.evaluation.evaluate`'s figures."""
    s = figures["setting"]
    radii = list(figures["rows"][0]["attack_damage"])
    lines = [
        f"== VAE on {figures['dataset']}: {s['train_images']} images x {s['epochs']} epochs, "
        f"latent {s['latent']}, {s['depth']} hidden layers of {s['hidden']}; max-damage "
        f"attack ({s['attack_steps']} steps) on {s['attack_images']} test images; "
        "L2 distances in pixels",
        f"{'enc std':>7} {'noise':>5} {'L_mu':>8} {'L_g':>8} {'L':>9} {'radius':>9} "
        f"{'MSE':>7}  damage mean / max (bound) at radius "
        + ", ".join(map(str, radii)) + "   held",
    ]
    for r in figures["rows"]:
        dmg = "  ".join(f"{r['attack_damage'][c]:.2f}/{r['attack_damage_max'][c]:.2f} "
                        f"({r['bound'][c]:.0f})" for c in radii)
        lines.append(
            f"{r['sigma_enc']:7.2f} {r['input_noise']:5.2f} {r['lipschitz_encoder']:8.1f} "
            f"{r['lipschitz_decoder']:8.1f} {r['lipschitz_reconstruction']:9.1f} "
            f"{r['certified_radius']:9.2e} {r['reconstruction_mse']:7.4f}  {dmg}   "
            f"{r['certificate_held']}"
        )
    lines += [
        f"certified radius: for reconstruction tolerance {figures['rows'][0]['tolerance']}; "
        "largest damage found at it: "
        + ", ".join(f"{r['damage_at_certified_radius']:.4f}" for r in figures["rows"]),
        "empirical slope (largest damage / radius): "
        + ", ".join(f"{r['empirical_lipschitz']:.2f}" for r in figures["rows"]),
        f"certificate held on every image and radius: {figures['certificate_held']}",
        f"reference: {REFERENCE}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Measure the VAE baseline and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="mnist", choices=sorted(data.VENDORED))
    parser.add_argument("--train-images", type=int, help="default: all")
    parser.add_argument("--epochs", type=int, default=ev.EPOCHS)
    parser.add_argument("--attack-images", type=int, default=ev.ATTACK_IMAGES)
    parser.add_argument("--attack-steps", type=int, default=attack.STEPS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    figures = ev.evaluate(args.dataset, train_images=args.train_images, epochs=args.epochs,
                          attack_images=args.attack_images, attack_steps=args.attack_steps)
    print(report(figures), flush=True)


if __name__ == "__main__":
    main()
