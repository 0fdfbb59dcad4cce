"""Cheaper local computation for MPyC 0.11; its protocol and messages stay the same.

Profiling a party (cnn, 3 parties) puts a third of its CPU time in two places that
turn bytes into field elements one Python call at a time:

* **Resharing.** ``thresha.np_random_split`` draws each random polynomial coefficient
  with ``secrets.randbelow`` (one ``os.urandom`` system call per field element; every
  secure product reshares) and evaluates the polynomials as an object-dtype matrix
  product. Here one ``os.urandom`` call per sharing yields 64 spare bits per element,
  reduced modulo the field order (the same OS source, uniform up to a statistical
  distance below 2**-64), and Horner's rule evaluates the polynomials.
* **PRSS expansion.** ``thresha.PRF.__call__`` converts its SHAKE-128 output with one
  ``int.from_bytes`` per value. For values up to 64 bits (the masks of truncations and
  comparisons) numpy reads the same bytes as words; every value is bit-for-bit the one
  MPyC computes, so tuned and stock parties agree.

:func:`disable` restores MPyC's own code (``tuned=false`` runs stock MPyC). Import only
after the MPyC runtime is set up: importing ``mpyc`` parses ``sys.argv``.
"""

from __future__ import annotations

import os
from hashlib import shake_128
from math import prod
from typing import Any

import numpy as np
from mpyc import thresha

_originals: dict[str, Any] = {}


def uniform_below(bound: int, n: int) -> np.ndarray:
    """``n`` uniform ints in ``range(bound)`` (object array), 64 spare random bits each."""
    width = -(-(bound.bit_length() + 64) // 64)
    words = np.frombuffer(os.urandom(8 * width * n), dtype="<u8").reshape(n, width)
    out = words[:, -1].astype(object)
    for j in range(width - 2, -1, -1):
        out = (out << 64) | words[:, j].astype(object)
    return out % bound


def np_random_split(field, s, t, m):
    """``thresha.np_random_split`` with the coefficients drawn in bulk."""
    p = field.modulus
    if type(p) is not int:  # extension fields: MPyC's own code
        return _originals["np_random_split"](field, s, t, m)
    if isinstance(s, field.array):
        s = s.value
    n = len(s)
    coefs = uniform_below(field.order, t * n).reshape(t, n)
    shares = np.empty((m, n), dtype=object)
    for i in range(1, m + 1):  # Horner: s + c[t-1] i + ... + c[0] i**t, as MPyC's random_split
        y = 0
        for c in coefs:
            y = (y + c) * i
        shares[i - 1] = (y + s) % p
    return shares


def prf_call(self, s, n=None):
    """``thresha.PRF.__call__`` with arrays of values up to 64 bits converted by numpy.

    Every value is the one MPyC computes (``int.from_bytes`` of the same SHAKE-128
    bytes, modulo the bound); wider values (field elements) keep MPyC's own loop, which
    is as fast as object arithmetic.
    """
    length = self.byte_length
    if not isinstance(n, tuple) or not 0 < length <= 8 or not prod(n):
        return _originals["PRF.__call__"](self, s, n)
    count = prod(n)
    raw = np.frombuffer(shake_128(self.key + s).digest(count * length), dtype=np.uint8)
    padded = np.zeros((count, 8), dtype=np.uint8)
    padded[:, :length] = raw.reshape(count, length)
    values = padded.view("<u8")[:, 0]
    if self.max < 1 << 64:
        values = values % np.uint64(self.max)
    return values.astype(object).reshape(n)


def enable() -> None:
    """Install the faster local code (idempotent)."""
    if _originals:
        return
    _originals["np_random_split"] = thresha.np_random_split
    _originals["PRF.__call__"] = thresha.PRF.__call__
    thresha.np_random_split = np_random_split
    thresha.PRF.__call__ = prf_call


def disable() -> None:
    """Restore MPyC's own code."""
    if not _originals:
        return
    thresha.np_random_split = _originals.pop("np_random_split")
    thresha.PRF.__call__ = _originals.pop("PRF.__call__")


def enabled() -> bool:
    """Whether the faster local code is installed."""
    return bool(_originals)
