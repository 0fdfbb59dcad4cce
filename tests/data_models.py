"""A user's own network for the tests of bringing one's own model (not in the zoo): a
strided padded convolution with batch norm, a residual sum, average pooling, a flatten
and linear layers with batch norm between them. Run as ``-m tests.data_models:small
--weights FILE.pt``, or exported to ONNX (:func:`export`); the other factories fail as
a user's might."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

INPUT_SHAPE = (1, 28, 28)
DEFAULT_BATCH = 4


class Small(nn.Module):
    """conv 3x3 s2 p1 + batch norm, ReLU, x + ReLU(conv 3x3 p1), 2x2 average pooling,
    flatten, linear + batch norm, ReLU, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.inner = nn.Conv2d(4, 4, 3, padding=1)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(4 * 7 * 7, 16)
        self.bn1 = nn.BatchNorm1d(16)
        self.out = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn(self.conv(x)))
        y = y + torch.relu(self.inner(y))
        y = torch.flatten(self.pool(y), 1)
        return self.out(torch.relu(self.bn1(self.fc(y))))


def small() -> nn.Module:
    """The network, untrained."""
    return Small()


def trained(seed: int = 0) -> Small:
    """The network after a few SGD steps on MNIST training images (batch norm's running
    statistics from them), in eval mode: logits far enough apart for secure inference to
    agree with plaintext's."""
    from mpcbench import data

    x, y = data.load("mnist", "train", limit=512)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Small()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(3):
            for i in range(0, len(x), 64):
                opt.zero_grad()
                nn.functional.cross_entropy(model(x[i:i + 64]), y[i:i + 64]).backward()
                opt.step()
    return model.eval()


def export(model: nn.Module, path: Path, batch: int | None = 1, **options) -> Path:
    """``model`` (in eval mode) exported to ``path`` by torch's TorchScript exporter, for
    inputs of one MNIST image (``batch`` None: a symbolic batch)."""
    dynamic = {"dynamic_axes": {"x": {0: "N"}}} if batch is None else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation
        torch.onnx.export(model.eval(), torch.zeros(batch or 1, 1, 28, 28), str(path),
                          dynamo=False, input_names=["x"], **dynamic, **options)
    return path


def failing() -> nn.Module:
    """A factory that raises."""
    raise ValueError("no network here")


def not_a_module() -> object:
    """A factory that returns something else than a torch module."""
    return [1, 2, 3]
