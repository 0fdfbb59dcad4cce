"""Exact products of big-integer matrices through float64 BLAS.

MPyC keeps shares as numpy object arrays of Python ints (~64-bit field elements), and
an object-dtype matrix product runs one interpreted multiply-add per term (seconds per
image for a convolution). Splitting every entry into ``b``-bit limbs turns the product
into a few float64 GEMMs whose partial sums stay below 2**53, hence exact; the limb
products are then recombined into Python ints. Nothing here depends on MPyC.
"""

from __future__ import annotations

import numpy as np

_MANTISSA_BITS = 53
_WORD_BYTES = 16  # entries must be non-negative and below 2**128


def limb_bits(depth: int) -> int:
    """Widest limb whose ``depth``-term dot products of limbs stay exact in float64."""
    return (_MANTISSA_BITS - max(1, depth - 1).bit_length()) // 2


def limb_count(value_bits: int, bits: int) -> int:
    """Limbs of ``bits`` bits needed for values below ``2**value_bits``."""
    return -(-value_bits // bits)


def to_limbs(a: np.ndarray, bits: int, count: int) -> np.ndarray:
    """Split non-negative ints (object array) into float64 limbs, shape ``(count, *a.shape)``."""
    flat = a.reshape(-1)
    buf = b"".join([int.to_bytes(v, _WORD_BYTES, "little") for v in flat])
    words = np.frombuffer(buf, dtype="<u8").reshape(-1, 2)
    lo, hi = words[:, 0], words[:, 1]
    mask = np.uint64((1 << bits) - 1)
    out = np.empty((count, flat.size), dtype=np.float64)
    for i in range(count):
        shift = i * bits
        if shift >= 64:
            v = hi >> np.uint64(shift - 64)
        elif shift + bits <= 64:
            v = lo >> np.uint64(shift)
        else:
            v = (lo >> np.uint64(shift)) | (hi << np.uint64(64 - shift))
        out[i] = v & mask
    return out.reshape((count, *a.shape))


def from_limbs(limbs: np.ndarray, bits: int) -> np.ndarray:
    """The non-negative ints (object array) split by :func:`to_limbs` into ``limbs``."""
    out = limbs[-1].astype(np.int64).astype(object)
    for limb in limbs[-2::-1]:
        out = (out << bits) + limb.astype(np.int64).astype(object)
    return out


def matmul(a: np.ndarray, b: np.ndarray, bits: int) -> np.ndarray:
    """Exact integer product of limb stacks ``a`` [c, n, k] and ``b`` [c, k, m] as object ints.

    The limb width must satisfy ``bits <= limb_bits(k)``.
    """
    count = a.shape[0]
    groups: list[np.ndarray | None] = [None] * (2 * count - 1)
    for i in range(count):
        for j in range(count):
            part = (a[i] @ b[j]).astype(np.int64)
            groups[i + j] = part if groups[i + j] is None else groups[i + j] + part
    out = groups[-1].astype(object)
    for g in reversed(groups[:-1]):
        out = (out << bits) + g.astype(object)
    return out
