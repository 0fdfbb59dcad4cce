"""``secureml``: the MNIST network of SecureML as Falcon runs it: fc 784->128, ReLU,
fc 128->128, ReLU, fc 128->10.

Source: Mohassel and Zhang, "SecureML: A System for Scalable Privacy-Preserving Machine
Learning" (IEEE S&P 2017), and Falcon's network A (Wagh et al., PoPETs 2021); layer list
in ``src/secondary.cpp`` of snwagh/falcon-public (``SecureML``: FCConfig(784,128), ReLU,
FCConfig(128,128), ReLU, FCConfig(128,10), ReLU).

Where ours differs: Falcon ends with a ReLU on the 10 outputs; ours ends with the logits,
as Falcon's weights were trained (see :mod:`.falcon`). Weights: Falcon's published ones,
converted by :mod:`.falcon` to take our normalised images.

``DEFAULT_BATCH`` is 1: the literature reports these networks per single image.
"""

from __future__ import annotations

from torch import nn

DEFAULT_BATCH = 1


def build() -> nn.Sequential:
    """SecureML's three fully connected layers in Falcon's order."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 128),
        nn.ReLU(),
        nn.Linear(128, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )
