"""The performance report (``mpcbench report``) and run comparison (``mpcbench compare``)."""

from .html import build

__all__ = ["build"]
