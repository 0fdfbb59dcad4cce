"""MPyC: Shamir secret sharing with secure fixed-point arrays (:mod:`.backend`), its number
format (:mod:`.fixedpoint`, no MPyC import), the secure network evaluation
(:mod:`.network`), modular matrix products (:mod:`.modmat`), the tuned local code
(:mod:`.speedups`) and counted transport (:mod:`.transport`)."""

from .backend import MpycBackend

__all__ = ["MpycBackend"]
