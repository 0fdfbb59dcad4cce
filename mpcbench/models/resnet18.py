"""``resnet18``: ResNet-18 (He et al., "Deep Residual Learning for Image Recognition",
CVPR 2016) in the form common for 3x32x32 CIFAR-10 images (as in
github.com/kuangliu/pytorch-cifar, ``models/resnet.py``):

a stem conv 3->64 3x3 stride 1 pad 1, batch norm, ReLU (no max pool); four stages of two
basic blocks of 64, 128, 256 and 512 channels (32, 16, 8, 4 pixels a side), the first
block of stages 2-4 with stride 2 and a conv 1x1 stride 2 + batch norm shortcut; global
average pooling, fc 512->10.

A basic block is conv 3x3, batch norm, ReLU, conv 3x3, batch norm, the residual add of
its shortcut (the identity or the 1x1 conv), ReLU. The convs have no bias (the batch
norms that follow them shift); each batch norm folds into the conv before it.
"""

from __future__ import annotations

import torch
from torch import nn

DEFAULT_BATCH = 1
INPUT_SHAPE = (3, 32, 32)
#: channels of the four stages (the first block of each but the first has stride 2)
WIDTHS = (64, 128, 256, 512)
CLASSES = 10


class BasicBlock(nn.Module):
    """Two 3x3 convs with batch norm and a residual add, ReLU after each half."""

    def __init__(self, channels_in: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or channels_in != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(channels_in, channels, 1, stride, bias=False),
                nn.BatchNorm2d(channels))
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.shortcut(x))


class ResNet18(nn.Module):
    """The CIFAR-10 ResNet-18 (see the module)."""

    def __init__(self, classes: int = CLASSES) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(INPUT_SHAPE[0], WIDTHS[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(WIDTHS[0])
        self.relu = nn.ReLU()
        stages, channels = [], WIDTHS[0]
        for i, width in enumerate(WIDTHS):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(channels, width, stride),
                                        BasicBlock(width, width)))
            channels = width
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(WIDTHS[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def build() -> ResNet18:
    """The CIFAR-10 ResNet-18 with 10 outputs."""
    return ResNet18()
