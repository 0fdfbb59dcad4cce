"""mpcbench: benchmark secure (MPC) inference of shared PyTorch models under several MPC frameworks.

The root package names where its backends live (:data:`BACKEND_PACKAGES`), so the
backend registry (:mod:`mpcbench.parties`), a layer below the baselines, names no
package above it.
"""

__version__ = "0.1.0"

#: mpcbench's own backend packages, searched in this order: the MPC frameworks and the
#: plaintext reference, then the non-cryptographic baselines (the layers of the import
#: contracts in setup.cfg: baselines sit above parties and may import it, not the reverse)
BACKEND_PACKAGES = ("mpcbench.parties", "mpcbench.baselines")
