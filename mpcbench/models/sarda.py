"""``sarda``: Falcon's network B on MNIST: conv 1->5 2x2 stride 2, ReLU, fc 980->100,
ReLU, fc 100->10.

Source: Wagh et al., "Falcon: Honest-Majority Maliciously Secure Framework for Private
Deep Learning" (PoPETs 2021), network B, which SecureNN and Falcon take from Chameleon
(Riazi et al., AsiaCCS 2018; there a 5x5 kernel of stride 2, 845 features); Falcon's code
calls it Sarda and runs a 2x2 kernel, 980 features. Layer list in ``src/secondary.cpp``
of snwagh/falcon-public (``Sarda``: CNNConfig(28,28,1,5,2,2,0), ReLU, FCConfig(980,100),
ReLU, FCConfig(100,10)).

Ours has exactly these layers. Weights: Falcon's published ones, converted by
:mod:`.falcon` to take our normalised images.

``DEFAULT_BATCH`` is 1: the literature reports these networks per single image.
"""

from __future__ import annotations

from torch import nn

DEFAULT_BATCH = 1


def build() -> nn.Sequential:
    """Falcon's Sarda network in its layer order."""
    return nn.Sequential(
        nn.Conv2d(1, 5, 2, stride=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(980, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )
