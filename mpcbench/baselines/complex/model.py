"""``complex``: the cnn split into a client encoder, a rotation-invariant complex-valued
server module and a client decoder, hiding the features by a secret rotation.

The client encodes an image into real features ``a`` (the cnn's first conv + ReLU), takes
the features ``b`` of another image of the batch as a fake component, draws a secret angle
``theta`` per image and sends ``exp(i theta) (a + i b)``. The server's processing module
commutes with that rotation: ``P(exp(i theta) z) = exp(i theta) P(z)`` (convolutions without
bias, the same real kernel on real and imaginary part; ReLU, max-pool and batch-norm act on
the norm of each complex feature). The client rotates the answer back by ``-theta``, keeps
the real part and classifies it with the cnn's fully connected head.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ...models import WEIGHTS_DIR, cnn, load_weights

#: model name (weights ``data/weights/complex-<dataset>.pt``)
NAME = "complex"
DEFAULT_BATCH = 8
#: Adam learning rate of the original study
LR = 3e-4
DEFAULT_EPOCHS = 2
#: training images (keeps a CPU training run to minutes)
DEFAULT_LIMIT = 20000
#: shapes of what the client sends (encoder features) and gets back (processed features)
FEATURES, PROCESSED = (32, 26, 26), (64, 12, 12)
#: threshold ``c`` of the complex ReLU (features have unit RMS norm after the batch-norm)
RELU_THRESHOLD = 1.0


class ComplexConv2d(nn.Module):
    """Convolution of a complex tensor: one real kernel without bias on real and imaginary part."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, bias=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        re, im = self.conv(torch.cat([z.real, z.imag])).chunk(2)
        return torch.complex(re, im)


class ComplexBatchNorm2d(nn.Module):
    """Divide each channel by the root mean square norm of its complex features."""

    def __init__(self, channels: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.register_buffer("running_sq", torch.ones(channels))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.training:
            sq = z.abs().square().mean(dim=(0, 2, 3))
            with torch.no_grad():
                self.running_sq.lerp_(sq, self.momentum)
        else:
            sq = self.running_sq
        return z / (sq + self.eps).sqrt().view(1, -1, 1, 1)


class ComplexReLU(nn.Module):
    """``z * |z| / max(|z|, c)``: keeps features with norm above ``c``, shrinks the others."""

    def __init__(self, threshold: float = RELU_THRESHOLD) -> None:
        super().__init__()
        self.threshold = threshold

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        norm = z.abs()
        return z * (norm / norm.clamp_min(self.threshold))


class ComplexMaxPool2d(nn.Module):
    """Non-overlapping pooling that keeps the feature of largest norm in each window."""

    def __init__(self, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _, idx = nn.functional.max_pool2d(z.abs(), self.kernel, return_indices=True)
        return z.flatten(2).gather(2, idx.flatten(2)).view(idx.shape)


def rotate(z: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """``exp(i theta) z`` with one angle per batch element."""
    return z * torch.polar(torch.ones_like(theta), theta).view(-1, *([1] * (z.dim() - 1)))


class ComplexNet(nn.Module):
    """Encoder (client), processing module (server) and decoder (client) of the complex cnn."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 32, 3, 1), nn.ReLU())
        self.processing = nn.Sequential(
            ComplexConv2d(32, 64, 3), ComplexMaxPool2d(2), ComplexBatchNorm2d(64), ComplexReLU()
        )
        self.decoder = cnn.head()

    def encode(
        self,
        x: torch.Tensor,
        fake: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Client: ``(exp(i theta)(a + i b), theta)`` for a batch of images.

        ``fake`` are the features ``b`` (default: those of the next image in the batch,
        which needs two or more images).
        """
        a = self.encoder(x)
        if fake is None:
            if len(a) < 2:
                raise ValueError("the fake component needs a second image in the batch")
            fake = a.roll(1, dims=0)
        theta = torch.rand(len(a), generator=generator) * (2 * math.pi)
        return rotate(torch.complex(a, fake), theta), theta

    def decode(self, z: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """Client: logits from the server's answer, rotated back by ``-theta``."""
        return self.decoder(rotate(z, -theta).real)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z, theta = self.encode(x)
        return self.decode(self.processing(z), theta)


def build() -> ComplexNet:
    """A fresh complex cnn."""
    return ComplexNet()


def load(dataset: str, weights_dir: Path = WEIGHTS_DIR) -> ComplexNet:
    """The trained complex cnn of ``dataset``, in eval mode."""
    return load_weights(build(), NAME, dataset, weights_dir)


def train(
    dataset: str,
    epochs: int | None = None,
    batch: int = 128,
    lr: float = LR,
    seed: int = 0,
    limit: int | None = None,
    save: bool = True,
    progress: Callable[[int, int], None] | None = None,
):
    """Train end to end with Adam on cross entropy (a fresh angle and fake for every image
    and step) on the first ``limit`` (default :data:`DEFAULT_LIMIT`) training images."""
    from ...models.train import fit

    torch.manual_seed(seed)
    return fit(build(), NAME, dataset, epochs or DEFAULT_EPOCHS, batch, lr, seed,
               limit or DEFAULT_LIMIT, save, progress)
