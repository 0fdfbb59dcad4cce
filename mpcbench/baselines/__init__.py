"""Non-MPC baselines: attacks and evaluations of the ``complex`` and ``cnnf`` models.

``perturb`` (Gaussian noise, FGSM, PGD), ``robustness`` (accuracy under perturbation),
``inversion`` (feature-inversion attacker), ``evaluation`` (cached figures that the
``complex`` / ``feedback`` backends report) and ``backend`` (what those backends share).
Run ``python -m mpcbench.baselines`` to train what is missing and print the figures.
"""
