"""``vae``: an MLP variational autoencoder with a fixed encoder standard deviation, its
Lipschitz robustness certificate and the maximum-damage attack that tests it.

``model`` (the VAE), ``train`` (its training, optionally with Gaussian input noise),
``lipschitz`` (layer spectral norms, bounds and the certified radius), ``attack``
(maximum-damage projected gradient ascent) and ``evaluation`` (figures per setting).
Run ``python -m mpcbench.baselines.vae`` to measure and print them.
"""
