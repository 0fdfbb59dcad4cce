"""The cnn split after its first conv block (conv 1->32 3x3 + ReLU): the client computes
that block and sends its activation, the server computes the rest of the cnn."""

from __future__ import annotations

import torch
from torch import nn

from ...models import cnn

#: index of the first server layer in ``cnn.build()``: conv1 and its ReLU stay on the client
CUT = 2
#: shape of the activation the client sends per image (the complex encoder's feature shape)
ACTIVATION = (32, 26, 26)
#: bytes on the wire per image (float32 activation)
ACTIVATION_BYTES = 4 * ACTIVATION[0] * ACTIVATION[1] * ACTIVATION[2]


class SplitNet(nn.Module):
    """The cnn as two halves: ``client`` (first conv block) and ``server`` (the rest)."""

    def __init__(self, net: nn.Sequential) -> None:
        super().__init__()
        self.client = net[:CUT]
        self.server = net[CUT:]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.server(self.client(x))


def build() -> SplitNet:
    """A fresh split cnn (the layers of :func:`mpcbench.models.cnn.build`)."""
    return SplitNet(cnn.build())
