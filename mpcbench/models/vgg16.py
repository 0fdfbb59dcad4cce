"""``vgg16``: the CIFAR-10 VGG16 of Falcon (Wagh et al., "Falcon: Honest-Majority
Maliciously Secure Framework for Private Deep Learning", PoPETs 2021; the layer list of
``src/secondary.cpp`` in github.com/snwagh/falcon-public, network ``VGG16``, dataset
``CIFAR10``), after Simonyan and Zisserman's configuration D (ICLR 2015), for 3x32x32
images:

13 conv 3x3 pad 1 layers, each followed by a ReLU, in five stages of 64, 64 | 128, 128 |
256, 256, 256 | 512, 512, 512 | 512, 512, 512 channels, each stage ending in a maxpool 2
(32 -> 1); fc 512->4096, ReLU, fc 4096->4096, ReLU, fc 4096->10, ReLU.

As in Falcon, the last conv of a stage is pooled before its ReLU (the same function as
ReLU then pool: max is monotone) and a ReLU follows the last fc layer too (kept: the
logits are non-negative). Falcon's last fc layer has 1000 outputs (ImageNet's classes)
in its CIFAR-10 list as well; here it has CIFAR-10's 10.
"""

from __future__ import annotations

from torch import nn

DEFAULT_BATCH = 1
INPUT_SHAPE = (3, 32, 32)
#: output channels of the conv layers of each stage
STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def build() -> nn.Sequential:
    """Falcon's CIFAR-10 VGG16 with 10 outputs (see the module)."""
    layers: list[nn.Module] = []
    channels = INPUT_SHAPE[0]
    for stage in STAGES:
        for i, width in enumerate(stage):
            layers.append(nn.Conv2d(channels, width, 3, padding=1))
            if i == len(stage) - 1:
                layers.append(nn.MaxPool2d(2))
            layers.append(nn.ReLU())
            channels = width
    return nn.Sequential(
        *layers,
        nn.Flatten(),
        nn.Linear(512, 4096),
        nn.ReLU(),
        nn.Linear(4096, 4096),
        nn.ReLU(),
        nn.Linear(4096, 10),
        nn.ReLU(),
    )
