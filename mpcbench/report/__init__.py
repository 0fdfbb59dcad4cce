"""The performance report (``mpcbench report``) and run comparison (``mpcbench compare``).

:func:`build` is imported when first asked for: ``compare`` needs no plotting libraries.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build"]


def __getattr__(name: str) -> Any:
    if name == "build":
        from .html import build

        return build
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
