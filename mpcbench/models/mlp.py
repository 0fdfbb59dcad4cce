"""``mlp``: five fully connected layers, 28 units in each hidden layer, ReLU."""

from __future__ import annotations

from torch import nn

HIDDEN = 28
DEFAULT_BATCH = 64


def build(activation: type[nn.Module] = nn.ReLU, hidden: int = HIDDEN) -> nn.Sequential:
    """784 -> 28 -> 28 -> 28 -> 28 -> 10 with ``activation`` after each hidden layer."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = 28 * 28
    for _ in range(4):
        layers += [nn.Linear(width, hidden), activation()]
        width = hidden
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)
