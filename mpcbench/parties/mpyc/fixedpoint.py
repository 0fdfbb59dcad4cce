"""MPyC number format and the option defaults that decide the protocol: fixed-point
parameters, threshold, PRSS. Imports no MPyC, so the launcher can validate a case."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

from ...case import Case
from ..base import Unsupported


@dataclass(frozen=True)
class FixedPoint:
    """Number format: compared values lie in ``[-2**(l-1), 2**(l-1))`` units of ``2**-f``."""

    bit_length: int = 14
    frac_bits: int = 7
    weight_frac_bits: int = 10

    @classmethod
    def of(cls, case: Case) -> FixedPoint:
        """The format ``case`` asks for (defaults where an option is absent)."""
        d = cls()
        fmt = cls(
            int(case.options.get("bit_length", d.bit_length)),
            int(case.options.get("frac_bits", d.frac_bits)),
            int(case.options.get("weight_frac_bits", d.weight_frac_bits)),
        )
        if not 0 <= fmt.frac_bits < fmt.bit_length - 1:
            raise Unsupported(f"mpyc needs 0 <= frac_bits < bit_length - 1, got {fmt}")
        if not 1 <= fmt.weight_frac_bits <= 32:
            raise Unsupported(f"mpyc needs 1 <= weight_frac_bits <= 32, got {fmt}")
        if fmt.bit_length > 40:
            raise Unsupported(f"mpyc bit_length {fmt.bit_length} is above 40")
        return fmt


#: most sets of m - t parties (terms of a PRSS value) for the backend's PRSS truncation:
#: its rounding error is a centred sum of that many uniform terms (at 35, 7 parties at
#: the default threshold: standard deviation 1.7 units of 2**-frac_bits, at most 17)
PRSS_MAX_TERMS = 35
#: most PRSS keys per party (sets of m - t parties containing it) for which PRSS is the
#: default: a party's PRSS work grows with them (6435 at 16 parties). Measured here, PRSS
#: beats MPyC's ``--no-prss`` mode at 5 parties (6 keys; cnn 13 vs 21 CPU s per image)
#: and loses at 9 (70 keys; mlp 17 vs 6 CPU s per 64 images, at 3x the traffic)
PRSS_MAX_KEYS = 20


def threshold(case: Case) -> int:
    """Shamir threshold t: the option, else MPyC's default ``(m-1)//2``."""
    t = case.options.get("threshold")
    return (case.parties - 1) // 2 if t is None else int(t)


#: values of the option ``variant``, the default first
VARIANTS = ("stock", "tuned")


def variant(case: Case) -> str:
    """``stock`` (MPyC's own operations, the default) or ``tuned`` (the project's code)."""
    value = case.options.get("variant", VARIANTS[0])
    if value not in VARIANTS:
        raise Unsupported(f"mpyc option variant must be one of {', '.join(VARIANTS)}, "
                          f"got {value!r}")
    return str(value)


#: headroom (bits) of a product over ``bit_length + weight_frac_bits`` before truncation
PRODUCT_HEADROOM = 2
#: MPyC's default security parameter (``--sec-param``; the backend never sets another)
SEC_PARAM = 30


def field_prime(fmt: FixedPoint, terms: int, sec_param: int = SEC_PARAM) -> int:
    """The prime of the field every value of a run lives in: room for a product plus the
    statistical masks of ``terms`` PRSS terms (1 without the fused truncation)."""
    saved, sys.argv = sys.argv, sys.argv[:1]  # a first import of mpyc parses sys.argv
    try:
        from mpyc import finfields  # the field code only: no runtime
    finally:
        sys.argv = saved
    bits = fmt.bit_length + fmt.weight_frac_bits + PRODUCT_HEADROOM
    prime, *_ = finfields.find_prime_root(bits + sec_param + terms.bit_length() + 2, n=2)
    return int(prime)


def value_range(fmt: FixedPoint) -> float:
    """Largest magnitude a value (and a compared difference) may have: compared values
    lie in ``[-2**(l-1), 2**(l-1))`` units of ``2**-f``, i.e. ``|x| < 2**(l-f-1)``."""
    return float(2 ** (fmt.bit_length - fmt.frac_bits - 1))


def prss(case: Case) -> bool:
    """PRSS unless asked otherwise or a party holds more than :data:`PRSS_MAX_KEYS` keys."""
    default = math.comb(case.parties - 1, threshold(case)) <= PRSS_MAX_KEYS
    return case.options.get("prss", default)


def prss_terms(case: Case) -> int:
    """Terms of a PRSS value of ``case``: the sets of m - t parties."""
    return math.comb(case.parties, threshold(case))


def fused_truncation(case: Case) -> bool:
    """Whether the products of ``case`` are truncated with PRSS masks: in the tuned
    variant (:mod:`.tuned`), with PRSS and at most :data:`PRSS_MAX_TERMS` terms."""
    return variant(case) == "tuned" and bool(prss(case)) and prss_terms(case) <= PRSS_MAX_TERMS
