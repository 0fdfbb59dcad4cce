"""MPyC backend: Shamir secret sharing over a prime field, secure fixed-point arrays.

MPyC configures itself from ``sys.argv`` when ``mpyc`` is first imported, so nothing
here imports it at module import time: :meth:`MpycBackend.setup` builds MPyC's own
command line for this party (``-M m -I rank -P host:port ... -T t``), installs it as
``sys.argv`` for the import, then starts the runtime. The evaluation itself lives in
:mod:`.network` (what both variants share) and one module per variant.

Case options: ``threshold`` (default MPyC's ``(m-1)//2``; 0 at two parties, which
means no secrecy), ``bit_length`` (bits of every compared value, default 14),
``frac_bits`` (fractional bits of activations, default 7), ``weight_frac_bits``
(fractional bits of weights, default 10), ``variant`` (``stock``, the default: MPyC's
own secure array operations, :mod:`.stock`; ``tuned``: the project's products,
truncation and local code, :mod:`.tuned` and :mod:`.speedups`) and ``prss``
(pseudorandom secret sharing; default true up to :data:`.fixedpoint.PRSS_MAX_KEYS` keys per
party, i.e. up to 7 parties at the default threshold).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
import sys
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ... import roles
from ...case import Case
from ...models import layers as L
from .. import shares
from ..base import Backend, CommCounters, Kind, Unsupported
from ..capabilities import SecureTraining, ShareFiles, ValueRange
from ..context import PartyContext
from .fixedpoint import (
    VARIANTS,
    FixedPoint,
    field_prime,
    fused_truncation,
    prss,
    prss_terms,
    threshold,
    value_range,
    variant,
)

if TYPE_CHECKING:  # imports MPyC, which reads sys.argv: only inside setup
    from .network import SecureNet


def mpyc_argv(ctx: PartyContext, fmt: FixedPoint, program: str = "mpcbench") -> list[str]:
    """MPyC's command line for this party (one party: no network)."""
    argv = [program, "-M", str(ctx.parties), "-I", str(ctx.rank)]
    if ctx.parties > 1:
        for addr in ctx.addresses:
            argv += ["-P", addr]
    argv += ["-T", str(threshold(ctx.case)), "-L", str(fmt.bit_length), "--no-log"]
    if not prss(ctx.case):
        argv.append("--no-prss")
    return argv


def _runtime(argv: list[str]):
    """An MPyC runtime configured by ``argv`` (set as ``sys.argv`` while MPyC reads it)."""
    saved = sys.argv
    sys.argv = list(argv)
    try:
        if "mpyc.runtime" in sys.modules:  # already imported: configure a fresh runtime
            from mpyc import runtime

            return runtime.setup()
        from mpyc.runtime import mpc

        return mpc
    finally:
        sys.argv = saved


def _speedups_enabled() -> bool:
    from . import speedups

    return speedups.enabled()


def _evaluator(name: str) -> type[SecureNet]:
    """The secure evaluation of variant ``name`` (imports MPyC)."""
    from .stock import StockNet
    from .tuned import TunedNet

    return {cls.variant: cls for cls in (StockNet, TunedNet)}[name]


def _to_words(values: np.ndarray, words: int) -> np.ndarray:
    """Non-negative ints (object array) as little-endian uint64 words, shape ``(*shape, words)``."""
    flat = values.reshape(-1)
    buf = b"".join([int.to_bytes(int(v), 8 * words, "little") for v in flat])
    return np.frombuffer(buf, dtype="<u8").reshape(*values.shape, words).copy()


def _from_words(a: np.ndarray) -> np.ndarray:
    """The ints (object array) of :func:`_to_words`."""
    out = a[..., 0].astype(object)
    for i in range(1, a.shape[-1]):
        out += a[..., i].astype(object) << (64 * i)
    return out


@contextlib.contextmanager
def _listening_on(loop, host: str):
    """MPyC's ``start`` listens on every interface; make it listen on ``host`` only.

    (A loop without settable attributes, such as uvloop's, keeps MPyC's behaviour.)
    """
    try:
        loop.create_server = functools.partial(loop.create_server, host=host)
    except AttributeError:
        yield
        return
    try:
        yield
    finally:
        del loop.create_server


class MpycBackend(Backend, ShareFiles, ValueRange):
    """Secure inference with MPyC (semi-honest, honest majority)."""

    name: ClassVar[str] = "mpyc"
    imports: ClassVar[tuple[str, ...]] = ("mpyc", "gmpy2")
    kind: ClassVar[Kind] = Kind.MPC
    min_parties: ClassVar[int] = 2
    max_parties: ClassVar[int] = 16
    options: ClassVar[frozenset[str]] = frozenset(
        {"threshold", "bit_length", "frac_bits", "weight_frac_bits", "variant", "prss"}
    )
    variants: ClassVar[tuple[str, ...]] = VARIANTS
    takes_roles: ClassVar[bool] = True
    lacks: ClassVar[dict[type, str]] = {SecureTraining: (
        "MPyC has secure fixed-point arrays but no autograd: training needs a "
        "hand-written backward pass of every layer (ReLU masks from secure "
        "comparisons kept from the forward pass, matrix products of the transposed "
        "weights), a secure softmax (exponential and reciprocal approximations in "
        "fixed point) and a truncation after every product of the update; none of "
        "it is in MPyC or in this harness")}

    def __init__(self) -> None:
        self._mpc = None
        self._net = None
        self._ctx: PartyContext | None = None
        self._final = (0, 0, 0)

    @classmethod
    def available(cls) -> str | None:
        return None if importlib.util.find_spec("mpyc") else "mpyc is not installed"

    @classmethod
    def versions(cls) -> dict[str, str]:
        out = {}
        for pkg in ("mpyc", "gmpy2"):
            try:
                out[pkg] = importlib.metadata.version(pkg)
            except importlib.metadata.PackageNotFoundError:
                pass
        return out

    @classmethod
    def security(cls, case: Case) -> dict[str, Any]:
        t = threshold(case)
        info = {
            "protocol": "Shamir secret sharing (MPyC)",
            "threshold": t,
            "provider": "none (PRSS/Shamir, no dealer)",
            "adversary": "semi-honest, honest majority (t < m/2)",
        }
        info["randomness"] = (
            "PRSS (pseudorandom secret sharing)"
            if prss(case)
            else "t+1 parties' random inputs (MPyC --no-prss)"
        )
        info.update(roles.security_record(case.roles, None, "no dealer: " + info["randomness"]))
        if t == 0:
            info["note"] = "threshold 0: every party holds the plain values (no secrecy)"
        info["variant"] = variant(case)
        info["tuned_changes"] = cls._tuned_changes(case) if variant(case) == "tuned" else []
        return info

    @staticmethod
    def _tuned_changes(case: Case) -> list[str]:
        """What ``variant=tuned`` changes in the protocol and messages of ``case``."""
        terms = prss_terms(case)
        changes = ["products: float64 limb-split BLAS products of the shares (exact, local; "
                   "same values as MPyC's object-array product)"]
        if fused_truncation(case):
            changes.append(
                f"truncation: the degree-2t product is masked with PRSS values ({terms} "
                "terms) and opened once, one round instead of MPyC's resharing plus "
                "np_trunc (no random bits, no separate resharing: fewer messages); "
                f"probabilistic rounding within about {terms}/2 units of 2**-frac_bits "
                "instead of one")
        else:
            changes.append("truncation: MPyC's resharing, then its np_trunc (as stock)")
        changes += [
            "resharing randomness: one os.urandom call per sharing, 64 spare bits per "
            "element reduced mod p (statistical distance < 2**-64) instead of "
            "secrets.randbelow per coefficient",
            "PRSS field elements: 16 bytes of the same SHAKE-128 output reduced mod p "
            "(statistical distance < 2**-66), not MPyC's values: all parties must run "
            "the same variant",
        ]
        return changes

    @classmethod
    def resolve(cls, case: Case) -> dict[str, Any]:
        fmt = FixedPoint.of(case)
        return {"threshold": threshold(case), "bit_length": fmt.bit_length,
                "frac_bits": fmt.frac_bits, "weight_frac_bits": fmt.weight_frac_bits,
                "variant": variant(case), "prss": prss(case)}

    @classmethod
    def value_range(cls, case: Case) -> float:
        return value_range(FixedPoint.of(case))

    @classmethod
    def validate(cls, case: Case) -> None:
        super().validate(case)
        unknown = cls.own_options(case) - cls.options
        if unknown:
            raise Unsupported(
                f"unknown mpyc options {sorted(unknown)}; known: {sorted(cls.options)}"
            )
        t = threshold(case)
        if not 0 <= 2 * t < case.parties:
            raise Unsupported(f"mpyc needs 0 <= 2t < m, got t={t} with m={case.parties}")
        if not isinstance(prss(case), bool):
            raise Unsupported(f"mpyc option prss must be true or false, got {prss(case)!r}")
        variant(case)
        FixedPoint.of(case)

    def setup(self, ctx: PartyContext) -> None:
        fmt = FixedPoint.of(ctx.case)
        mpc = _runtime(mpyc_argv(ctx, fmt, sys.argv[0] if sys.argv else "mpcbench"))
        from . import transport

        transport.install()
        evaluator = _evaluator(variant(ctx.case))
        evaluator.install()
        with _listening_on(mpc._loop, ctx.addresses[ctx.rank].rsplit(":", 1)[0]):
            mpc.run(mpc.start())
        self._mpc, self._ctx = mpc, ctx
        self._net = evaluator(mpc, ctx.case)

    def share_model(self, graph: L.Graph) -> Any:
        return self._net.share_model(graph, self._ctx.case.roles.model_owner)

    @classmethod
    def share_encoding(cls, case: Case) -> dict[str, Any]:
        """Shamir shares over the run's prime field at its threshold; fixed-point bits; the
        variant (stock holds weights in MPyC's integral encoding, tuned as plain ints)."""
        fmt = FixedPoint.of(case)
        t = threshold(case)
        terms = prss_terms(case) if fused_truncation(case) else 1
        return {"scheme": "Shamir", "field": str(field_prime(fmt, terms)),
                "threshold": t, "bit_length": fmt.bit_length, "frac_bits": fmt.frac_bits,
                "weight_frac_bits": fmt.weight_frac_bits, "variant": variant(case)}

    def _words(self) -> int:
        return -(-self._net.field.modulus.bit_length() // 64)

    def export_shares(self, model: Any) -> dict[str, np.ndarray]:
        """This party's field shares of every weight matrix and bias, as uint64 words."""
        return {name: _to_words(values, self._words())
                for name, values in self._net.model_shares(model).items()}

    def import_shares(self, arrays: dict[str, np.ndarray], graph: L.Graph) -> Any:
        """Secure arrays of this party's field shares (no communication)."""
        from .network import weight_shape

        modulus, words = self._net.field.modulus, self._words()
        if str(modulus) != self.share_encoding(self._ctx.case)["field"]:
            raise Unsupported(f"this run's field (modulus {modulus}) is not the field its "
                              "shares were checked against")
        ints = {}
        for i, lay in enumerate(graph.ops):
            if isinstance(lay, L.Affine):
                for name, shape in (("weight", weight_shape(lay)), ("bias", lay.bias.shape)):
                    key = f"{i}.{name}"
                    values = _from_words(shares.take(arrays, key, (*shape, words)))
                    if values.size and max(values.flat) >= modulus:
                        raise shares.SharesError(f"share array {key} holds values outside "
                                                 f"the field of modulus {modulus}")
                    ints[key] = values
        return self._net.from_shares(graph, ints)

    def share_input(self, x: np.ndarray | None, shape: tuple[int, ...], owner: int) -> Any:
        return self._net.share_input(x, shape, owner)

    def join(self, parts: list[Any]) -> Any:
        return parts[0] if len(parts) == 1 else self._mpc.np_concatenate(parts)

    def infer(self, model: Any, x: Any) -> Any:
        return self._net.infer(model, x)

    def reveal(self, y: Any, receiver: int) -> np.ndarray | None:
        out = self._net.reveal(y, receiver)
        return None if out is None else np.asarray(out, dtype=np.float64)

    def barrier(self) -> None:
        """Finish pending work, then exchange a token with every party (MPyC's own
        ``barrier`` is local only). Tokens are not counted (see :mod:`.transport`)."""
        self._mpc.run(self._mpc.barrier())
        self._mpc.run(self._mpc.transfer(None))

    def _peers(self) -> list:
        mpc = self._mpc
        if mpc is None:
            return []
        return [
            p.protocol
            for p in mpc.parties
            if p.pid != mpc.pid and hasattr(p.protocol, "nbytes_received")
        ]

    def _traffic(self) -> tuple[int, int, int]:
        """Bytes sent, bytes received and messages sent so far (frozen at teardown)."""
        peers = self._peers()
        if not peers:
            return self._final
        return (sum(p.nbytes_sent for p in peers), sum(p.nbytes_received for p in peers),
                sum(p.messages_sent for p in peers))

    def comm_counters(self) -> CommCounters:
        sent, received, _ = self._traffic()
        # MPyC runs asynchronously and keeps no round count: missing, not 0
        return CommCounters(bytes_sent=sent, bytes_received=received, rounds=None,
                            method="counted")

    def extra_metrics(self) -> dict[str, tuple[float, str]]:
        return {"messages_sent": (float(self._traffic()[2]), "count")}

    def run_info(self) -> dict[str, Any]:
        if self._net is None:
            return {}
        net, mpc = self._net, self._mpc
        return {
            "threshold": mpc.threshold,
            "bit_length": net.fmt.bit_length,
            "frac_bits": net.fmt.frac_bits,
            "weight_frac_bits": net.fmt.weight_frac_bits,
            "sec_param": mpc.options.sec_param,
            "prime_bits": net.field.modulus.bit_length(),
            "prss": not mpc.options.no_prss,
            "prss_terms": net.prss_terms,
            "gmpy2": "gmpy2" in self.versions(),
            "variant": net.variant,
            "speedups": _speedups_enabled(),
            "products": net.products,
            "truncation": net.truncation,
        }

    def teardown(self) -> None:
        if self._mpc is None:
            return
        self._final = self._traffic()
        self._mpc.run(self._mpc.shutdown())
        self._mpc = None
