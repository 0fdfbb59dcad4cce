"""CrypTen: additive secret sharing over the 64-bit ring (:mod:`.backend`), its torch
compatibility layer (:mod:`.compat`), the layer translation (:mod:`.layers`) and the
tuned local computation (:mod:`.speedups`)."""

from .backend import CryptenBackend

__all__ = ["CryptenBackend"]
