"""``cnn``: conv 1->32 3x3, ReLU, conv 32->64 3x3, ReLU, maxpool 2, dropout,
fc 9216->128, ReLU, fc 128->10."""

from __future__ import annotations

from torch import nn

DEFAULT_BATCH = 8


def head() -> nn.Sequential:
    """The classifier after the pooled conv features: dropout, fc 9216->128, ReLU, fc 128->10."""
    return nn.Sequential(
        nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(9216, 128),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(128, 10),
    )


def build() -> nn.Sequential:
    """The MNIST CNN of the reference study (PyTorch's classic MNIST example)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, 1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, 1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        *head(),
    )
