"""``python -m mpcbench.baselines.split [--dataset D] [--noise S ...] [...]``: train the
split cnn plainly and with DP-SGD, attack each, print accuracy / attack MSE / epsilon
beside the study's figures and write the reconstruction figure."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ... import data
from . import evaluation as ev

#: the study's DP-SGD figures (20-class Omniglot alphabets; 13180 images, batch 32,
#: 20 epochs) and its attacker's MSE against the plain model
REFERENCE = {"attack_mse": 0.0413, 0.7: (4.0, 0.37), 0.5: (12.5, 0.45), 0.3: (84.7, 0.56)}


def report(figures: dict) -> str:
    """Readable table of :func:`~mpcbench.baselines.split.evaluation.evaluate`'s figures."""
    s = figures["setting"]
    lines = [
        f"== split cnn on {figures['dataset']}: target {s['train_images']} images x "
        f"{s['epochs']} epochs (batch {s['batch']}, clip {s['clip']}, delta {s['delta']}), "
        f"attacker {s['attacker_images']} disjoint images x {s['attacker_epochs']} epochs, "
        f"attack MSE on {s['attack_images']} test images, accuracy on {s['test_images']}; "
        f"{figures['activation_bytes']} activation bytes per image",
        f"{'noise':>6} {'epsilon':>9} {'accuracy':>9} {'attack MSE':>11} {'steps':>6} "
        f"{'train s':>8}   study (epsilon, accuracy)",
    ]
    for r in figures["rows"]:
        ref = REFERENCE.get(r["noise_multiplier"])
        lines.append(
            f"{r['noise_multiplier']:6.2f} {r['epsilon']:9.2f} {r['accuracy']:9.4f} "
            f"{r['attack_mse']:11.4f} {r['steps']:6d} {r['train_seconds']:8.1f}   "
            + (f"{ref[0]}, {ref[1]}" if ref else f"attack MSE {REFERENCE['attack_mse']}")
        )
    if figures["figure"]:
        lines.append(f"reconstructions: {figures['figure']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Measure the split baseline and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="mnist", choices=sorted(data.VENDORED))
    parser.add_argument("--noise", type=float, action="append",
                        help="noise multiplier (repeatable; 0 = plain training; "
                             f"default: {' '.join(map(str, ev.SETTINGS))})")
    parser.add_argument("--train-images", type=int, default=ev.TRAIN_IMAGES)
    parser.add_argument("--attacker-images", type=int, default=ev.ATTACKER_IMAGES)
    parser.add_argument("--attack-images", type=int, default=ev.ATTACK_IMAGES)
    parser.add_argument("--epochs", type=int, default=ev.EPOCHS)
    parser.add_argument("--attacker-epochs", type=int, default=ev.ATTACKER_EPOCHS)
    parser.add_argument("--max-steps", type=int, help="bound on the DP-SGD steps")
    parser.add_argument("--figure", type=Path, help="PNG path (default results/split-D.png)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    figures = ev.evaluate(
        args.dataset, tuple(args.noise or ev.SETTINGS), args.train_images,
        args.attacker_images, args.attack_images, epochs=args.epochs,
        attacker_epochs=args.attacker_epochs, max_steps=args.max_steps,
        figure=args.figure or Path("results") / f"split-{args.dataset}.png",
    )
    print(report(figures), flush=True)


if __name__ == "__main__":
    main()
