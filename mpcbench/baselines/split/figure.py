"""A PNG grid of original images above their reconstructions by the inversion attacker."""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.figure import Figure


def plot_reconstructions(
    originals: torch.Tensor, reconstructions: dict[str, torch.Tensor], path: Path
) -> Path:
    """Write ``path``: one row of ``originals`` and one row per labelled reconstruction.

    Images are ``[N, 1, 28, 28]`` pixels in [0, 1]; every row shows the same ``N`` images.
    """
    rows = {"original": originals, **reconstructions}
    n = len(originals)
    fig = Figure(figsize=(1.1 * n + 1.6, 1.2 * len(rows)))
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        for c in range(n):
            ax = axes[r][c]
            ax.imshow(images[c, 0].detach().clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    return path
