"""MPyC: Shamir secret sharing with secure fixed-point arrays (:mod:`.backend`), its number
format (:mod:`.fixedpoint`, no MPyC import), the secure network evaluation (:mod:`.network`)
in two variants (:mod:`.stock`: MPyC's own operations; :mod:`.tuned`: the project's), modular
matrix products (:mod:`.modmat`), the tuned local code (:mod:`.speedups`) and counted
transport (:mod:`.transport`)."""

from .backend import MpycBackend

__all__ = ["MpycBackend"]
