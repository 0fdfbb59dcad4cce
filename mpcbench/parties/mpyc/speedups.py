"""Cheaper local computation for MPyC 0.11 (``variant=tuned``); its messages stay the same.

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
  comparisons) numpy reads the same bytes as words, bit-for-bit MPyC's values; field
  elements come from 16 bytes each, reduced by numpy (see :func:`prf_call`), so all
  parties of a run must be tuned alike (the ``variant`` option is per case).

:func:`disable` restores MPyC's own code (``variant=stock``). Import only
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


#: numpy's long double holds 64-bit integers exactly (x86 extended precision)
_EXACT_LONG_DOUBLE = np.finfo(np.longdouble).nmant >= 63


def _mod_words(words: np.ndarray, p: int) -> np.ndarray:
    """``(w1 * 2**64 + w0) mod p`` for uint64 rows ``(w0, w1)`` and ``p < 2**62``.

    ``w1 * 2**64 = a * r (mod p)`` with ``a = w1 mod p`` and ``r = 2**64 mod p``; the
    quotient of ``a * r`` by ``p`` from long doubles is off by at most one, which the
    exact (wrapping) uint64 remainder then corrects.
    """
    pu, ps = np.uint64(p), np.int64(p)
    a = words[:, 1] % pu
    r = (1 << 64) % p
    q = np.floor(a.astype(np.longdouble) * np.longdouble(r) / np.longdouble(p))
    rem = (a * np.uint64(r) - q.astype(np.uint64) * pu).view(np.int64)
    rem = np.where(rem < 0, rem + ps, rem)
    rem = np.where(rem >= ps, rem - ps, rem) + (words[:, 0] % pu).view(np.int64)
    return np.where(rem >= ps, rem - ps, rem)


def prf_call(self, s, n=None):
    """``thresha.PRF.__call__`` with arrays converted by numpy.

    Values up to 64 bits are the ones MPyC computes (``int.from_bytes`` of the same
    SHAKE-128 bytes, modulo the bound). Below bounds up to ``2**62`` that are no power
    of two (field elements), where MPyC reduces ``8 + 16`` bytes per value, each value
    is 16 bytes of the SHAKE-128 output reduced modulo the bound: uniform up to a
    statistical distance below 2**-66, and the same at every tuned party.
    """
    length = self.byte_length
    if not isinstance(n, tuple) or not length or not prod(n):
        return _originals["PRF.__call__"](self, s, n)
    count = prod(n)
    if length > 8:
        if self.max >= 1 << 62 or not _EXACT_LONG_DOUBLE:
            return _originals["PRF.__call__"](self, s, n)
        words = np.frombuffer(shake_128(self.key + s).digest(16 * count), dtype="<u8")
        return _mod_words(words.reshape(count, 2), self.max).astype(object).reshape(n)
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
