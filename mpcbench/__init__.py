"""mpcbench: benchmark secure (MPC) inference of shared PyTorch models with CrypTen and MPyC."""

__version__ = "0.1.0"
