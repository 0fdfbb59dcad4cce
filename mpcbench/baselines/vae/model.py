"""The study's MLP VAE on flattened images, with ReLU instead of sigmoid hidden units.

Encoder mean ``mu``: 784 -> 256 -> 256 -> 256 -> 64 (ReLU between); the encoder standard
deviation is a fixed ``sigma_enc``, so ``z ~ N(mu(x), sigma_enc^2 I)``. Decoder ``g``:
64 -> 256 -> 256 -> 256 -> 784, linear output reshaped to ``[1, 28, 28]``. Images are
pixels in [0, 1].
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ...models import INPUT_SHAPE, WEIGHTS_DIR, load_weights

#: latent size and hidden width of the study's image VAEs; hidden layers per half
LATENT, HIDDEN, DEPTH = 64, 256, 3
PIXELS = INPUT_SHAPE[0] * INPUT_SHAPE[1] * INPUT_SHAPE[2]


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of ``sizes`` with a ReLU between consecutive ones."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """Encoder mean and decoder of a VAE whose encoder std is the constant ``sigma_enc``."""

    def __init__(self, sigma_enc: float, latent: int = LATENT, hidden: int = HIDDEN,
                 depth: int = DEPTH) -> None:
        super().__init__()
        self.sigma_enc = sigma_enc
        self.encoder = nn.Sequential(nn.Flatten(), *mlp([PIXELS, *[hidden] * depth, latent]))
        self.decoder = nn.Sequential(*mlp([latent, *[hidden] * depth, PIXELS]),
                                     nn.Unflatten(1, INPUT_SHAPE))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic reconstruction ``g(mu(x))`` (what the certificate covers)."""
        return self.decoder(self.encoder(x))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(g(z), mu(x))`` with ``z = mu(x) + sigma_enc * N(0, I)``."""
        mu = self.encoder(x)
        return self.decoder(mu + self.sigma_enc * torch.randn_like(mu)), mu


#: model name (weights ``data/weights/vae-s<sigma_enc>[-n<input_noise>]-<dataset>.pt``)
NAME = "vae"
DEFAULT_BATCH = 8
#: encoder std of a run without the option ``sigma_enc``
DEFAULT_SIGMA = 0.5
#: the trained settings ``(sigma_enc, input_noise)``: the study's encoder stds, each
#: without and with Gaussian input noise of std 0.25 / 0.5 (pixels)
SETTINGS = tuple((s, n) for s in (0.1, 0.5, 1.0) for n in (0.0, 0.25, 0.5))
#: the recipe of ``mpcbench train --model vae``: training images and epochs per setting
TRAIN_IMAGES, EPOCHS = 20000, 3


def build(sigma_enc: float = DEFAULT_SIGMA) -> VAE:
    """A fresh VAE of encoder std ``sigma_enc``."""
    return VAE(sigma_enc)


def weights_name(sigma_enc: float, input_noise: float = 0.0) -> str:
    """``vae-s<sigma_enc>``, with ``-n<input_noise>`` when trained on noisy inputs."""
    return f"{NAME}-s{sigma_enc:g}" + (f"-n{input_noise:g}" if input_noise else "")


def load(dataset: str, sigma_enc: float = DEFAULT_SIGMA, input_noise: float = 0.0,
         weights_dir: Path = WEIGHTS_DIR) -> VAE:
    """The trained VAE of ``dataset`` in one of :data:`SETTINGS`, in eval mode."""
    return load_weights(build(sigma_enc), weights_name(sigma_enc, input_noise), dataset,
                        weights_dir)


def train(
    dataset: str,
    epochs: int | None = None,
    batch: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    limit: int | None = None,
    save: bool = True,
    progress: Callable[[int, int], None] | None = None,
    settings: tuple[tuple[float, float], ...] = SETTINGS,
):
    """Train one VAE per setting on the first ``limit`` (default :data:`TRAIN_IMAGES`)
    training images (pixels in [0, 1]); returns the last one's result, whose
    ``test_accuracy`` is ``None`` (a VAE does not classify; its test reconstruction MSE is
    in the manifest)."""
    from ... import data
    from ...models import WeightsInfo, save_weights
    from ...models.train import TrainResult
    from ..perturb import to_pixels
    from . import train as recipe

    epochs, limit = epochs or EPOCHS, limit or TRAIN_IMAGES
    x = to_pixels(data.load(dataset, "train", limit=limit)[0], dataset)
    xt = to_pixels(data.load(dataset, "test")[0], dataset)
    result = None
    for i, (sigma, noise) in enumerate(settings):
        if progress:
            progress(i, len(settings))
        torch.manual_seed(seed)
        model = build(sigma)
        seconds = recipe.train(model, x, epochs, batch, lr, input_noise=noise, seed=seed)
        with torch.no_grad():
            mse = float((model.reconstruct(xt) - xt).square().mean())
        meta = {"test_accuracy": None, "test_reconstruction_mse": mse, "epochs": epochs,
                "seed": seed, "train_seconds": round(seconds, 1), "train_images": len(x),
                "sigma_enc": sigma, "input_noise": noise}
        name = weights_name(sigma, noise)
        info = save_weights(model, name, dataset, meta) if save else WeightsInfo(None, "", None)
        result = TrainResult(name, dataset, epochs, None, seconds, info)
    if progress:
        progress(len(settings), len(settings))
    return result
