"""``lenet``: LeNet as Falcon runs it on MNIST: conv 1->20 5x5, maxpool 2, ReLU,
conv 20->50 5x5, maxpool 2, ReLU, fc 800->500, ReLU, fc 500->10.

Source: Wagh et al., "Falcon: Honest-Majority Maliciously Secure Framework for Private
Deep Learning" (PoPETs 2021), network D; layer list in ``src/secondary.cpp`` of
snwagh/falcon-public (``LeNet``: CNNConfig(28,28,1,20,5,1,0), MaxpoolConfig(24,24,20,2,2),
ReLU, CNNConfig(12,12,20,50,5,1,0), MaxpoolConfig(8,8,50,2,2), ReLU, FCConfig(800,500),
ReLU, FCConfig(500,10), ReLU).

Where ours differs: Falcon ends with a ReLU on the 10 outputs; ours ends with the logits
(see :mod:`.falcon`). Falcon's published weights for LeNet are incomplete in every copy
we have (the 800x500 layer is missing), so these weights are trained here
(``mpcbench train --model lenet``) on normalised images.

``DEFAULT_BATCH`` is 1: the literature reports these networks per single image.
"""

from __future__ import annotations

from torch import nn

DEFAULT_BATCH = 1


def build() -> nn.Sequential:
    """LeNet in Falcon's layer order (pooling before ReLU; the two commute)."""
    return nn.Sequential(
        nn.Conv2d(1, 20, 5),
        nn.MaxPool2d(2),
        nn.ReLU(),
        nn.Conv2d(20, 50, 5),
        nn.MaxPool2d(2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(800, 500),
        nn.ReLU(),
        nn.Linear(500, 10),
    )
