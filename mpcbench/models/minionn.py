"""``minionn``: the MNIST network of MiniONN as Falcon runs it: conv 1->16 5x5,
maxpool 2, ReLU, conv 16->16 5x5, maxpool 2, ReLU, fc 256->100, ReLU, fc 100->10.

Source: Liu et al., "Oblivious Neural Network Predictions via MiniONN Transformations"
(CCS 2017), Figure 13, and Falcon's network C (Wagh et al., PoPETs 2021); layer list in
``src/secondary.cpp`` of snwagh/falcon-public (``MiniONN``: CNNConfig(28,28,1,16,5,1,0),
MaxpoolConfig(24,24,16,2,2), ReLU, CNNConfig(12,12,16,16,5,1,0), MaxpoolConfig(8,8,16,2,2),
ReLU, FCConfig(256,100), ReLU, FCConfig(100,10), ReLU).

Where ours differs: Falcon ends with a ReLU on the 10 outputs; ours ends with the logits
(see :mod:`.falcon`; these weights were trained with that ReLU, which leaves every
prediction with a positive top logit unchanged). Falcon's training script applies ReLU
before pooling; max pooling and ReLU commute, so Falcon's order computes the same.
Weights: Falcon's published ones, converted by :mod:`.falcon` to take our normalised
images.

``DEFAULT_BATCH`` is 1: the literature reports these networks per single image.
"""

from __future__ import annotations

from torch import nn

DEFAULT_BATCH = 1


def build() -> nn.Sequential:
    """MiniONN's MNIST network in Falcon's layer order."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 5),
        nn.MaxPool2d(2),
        nn.ReLU(),
        nn.Conv2d(16, 16, 5),
        nn.MaxPool2d(2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(256, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )
