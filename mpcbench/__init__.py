"""mpcbench: benchmark secure (MPC) inference of shared PyTorch models with CrypTen and MPyC."""

__version__ = "0.1.0"


class MpcbenchWarning(UserWarning):
    """Warnings raised by mpcbench itself (turned into errors in the test suite)."""
