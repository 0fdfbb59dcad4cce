"""``vae``: an MLP variational autoencoder with a fixed encoder standard deviation, its
Lipschitz robustness certificate and the maximum-damage attack that tests it.

``model`` (the VAE, weights per setting), ``train`` (its training, optionally with
Gaussian input noise), ``lipschitz`` (layer spectral norms, bounds and the certified
radius), ``attack`` (maximum-damage projected gradient ascent), ``evaluation`` (figures per
setting) and ``backend`` (client encoder and server decoder as parties). Run ``python -m
mpcbench.baselines.vae`` to measure and print them.
"""

from .backend import VaeBackend

__all__ = ["VaeBackend"]
