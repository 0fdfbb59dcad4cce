"""``alexnet``: the CIFAR-10 AlexNet of Falcon (Wagh et al., "Falcon: Honest-Majority
Maliciously Secure Framework for Private Deep Learning", PoPETs 2021; the layer list of
``src/secondary.cpp`` in github.com/snwagh/falcon-public, network ``AlexNet``, dataset
``CIFAR10``), for 3x33x33 images:

conv 3->96 11x11 stride 4 pad 9 (33 -> 11), maxpool 3 stride 2 (11 -> 5), ReLU;
conv 96->256 5x5 pad 1 (5 -> 3), maxpool 3 stride 2 (3 -> 1), ReLU;
conv 256->384, ReLU, conv 384->384, ReLU, conv 384->256, ReLU (3x3 pad 1, on 1x1);
fc 256->256, ReLU, fc 256->256, ReLU, fc 256->10, ReLU.

As in Falcon, the max pools overlap (kernel 3, stride 2), each pool comes before its
ReLU (the same function as ReLU then pool: max is monotone) and a ReLU follows the last
fc layer too (kept: the logits are non-negative). Falcon puts a batch normalisation
after each of the first two ReLUs; they are left out: at inference with fresh
statistics (mean 0, variance 1, scale 1, shift 0) they are the identity, as they are for
the seeded weights this model runs with, and Falcon itself runs the network without
them (``WITH_NORMALIZATION = false``; its comment counts 18 layers without them: the
18 here, besides the flatten).
"""

from __future__ import annotations

from torch import nn

DEFAULT_BATCH = 1
INPUT_SHAPE = (3, 33, 33)


def build() -> nn.Sequential:
    """Falcon's CIFAR-10 AlexNet without its batch normalisations (see the module)."""
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4, padding=9),
        nn.MaxPool2d(3, stride=2),
        nn.ReLU(),
        nn.Conv2d(96, 256, 5, padding=1),
        nn.MaxPool2d(3, stride=2),
        nn.ReLU(),
        nn.Conv2d(256, 384, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
        nn.ReLU(),
    )
