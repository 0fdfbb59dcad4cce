"""``split``: the cnn cut after its first conv block, trained plainly or with DP-SGD, and
the inversion attacker that rebuilds the client's inputs from the activation it sends.

``model`` (client and server halves of the cnn, weights per noise multiplier), ``private``
(DP-SGD training with Opacus and its privacy accounting), ``figure`` (originals beside
reconstructions), ``evaluation`` (accuracy, attack MSE and epsilon per noise multiplier)
and ``backend`` (client and server as parties). Run ``python -m mpcbench.baselines.split``
to measure and print the figures.
"""

from .backend import SplitBackend

__all__ = ["SplitBackend"]
