"""SPU backend: SecretFlow's secure processing unit, one process per party over its brpc
links, running the layer graph as a jax program SPU compiles (:mod:`.program`).

Case options: ``protocol`` (``SEMI2K``, the default: additive sharing over the ring,
2 parties or more, Beaver triples from party 0; ``ABY3``: replicated sharing, exactly 3
parties, honest majority; ``CHEETAH``: 2 parties, no dealer, homomorphic encryption and
silent OT), ``field`` (the ring: ``FM64``, the default, or ``FM128``) and
``fxp_fraction_bits`` (fractional bits of the fixed-point encoding; default SPU's own for
the ring, recorded as its value).

Shares are SPU's own (``spu.Io.make_shares``): the party that holds a value makes every
party's share and sends it over SPU's link, so any party can own the model or images, and
a receiver gets every party's share of its logits and reconstructs them. Bytes are the
kernel's counts on SPU's connections (:mod:`.links`); SPU keeps no round count, so rounds
are missing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from typing import Any, ClassVar, NamedTuple

import numpy as np

from ... import roles
from ...case import Case
from ...models import layers as L
from .. import shares
from ..base import Backend, CommCounters, Kind, Unsupported
from ..capabilities import SecureTraining, ShareFiles, ValueRange
from ..context import PartyContext

#: protocol -> (fewest, most) parties it runs with
PROTOCOLS: dict[str, tuple[int, int]] = {"SEMI2K": (2, 16), "ABY3": (3, 3), "CHEETAH": (2, 2)}
#: ring -> SPU's default fractional bits of its fixed-point encoding
FIELDS: dict[str, int] = {"FM64": 18, "FM128": 26}
#: case options this backend understands, with their defaults (``None``: the ring's)
OPTIONS: dict[str, Any] = {"protocol": next(iter(PROTOCOLS)), "field": "FM64",
                           "fxp_fraction_bits": None}
#: what each protocol protects against, and where its correlated randomness comes from
SECURITY: dict[str, dict[str, Any]] = {
    "SEMI2K": {"protocol": "SEMI2K: additive secret sharing over the ring (SPU)",
               "provider": "TFP", "adversary": "semi-honest",
               "dealer": "party 0 (trusted first party)",
               "randomness": "correlated randomness from party 0 (trusted first party): "
                             "it generates every Beaver triple"},
    "ABY3": {"protocol": "ABY3: replicated secret sharing (SPU)",
             "provider": "none (pseudorandom zero sharings, no dealer)",
             "adversary": "3 parties, honest majority, semi-honest",
             "randomness": "no dealer: pseudorandom zero sharings between the parties"},
    "CHEETAH": {"protocol": "CHEETAH: additive sharing with lattice HE and silent OT (SPU)",
                "provider": "none (HE and silent OT, no dealer)",
                "adversary": "2 parties, no dealer, semi-honest",
                "randomness": "no dealer: products by homomorphic encryption, comparisons "
                              "by silent OT"},
}


def field(case: Case) -> str:
    """The case's ring (upper case; the default if unset)."""
    return str(case.options.get("field", OPTIONS["field"])).upper()


def fraction_bits(case: Case) -> int:
    """The case's fractional bits: the option, else SPU's default for the ring."""
    bits = case.options.get("fxp_fraction_bits")
    return FIELDS.get(field(case), 0) if bits is None else bits


class Model(NamedTuple):
    """A shared model: its layer graph and the names of SPU's variables of its weights and
    biases (:func:`.program.param_names`)."""

    graph: L.Graph
    names: list[str]


class Logits(NamedTuple):
    """Shared logits: the name of SPU's variable and its shape."""

    name: str
    shape: tuple[int, ...]


def _spans(receivers: list[roles.Slice], lo: int) -> list[tuple[int, int]]:
    """The rows of each receiver in the logits of a batch that starts at image ``lo``."""
    return [(s.lo - lo, s.hi - lo) for s in receivers]


def _spu():
    import spu

    return spu


class SpuBackend(Backend, ShareFiles, ValueRange):
    """Secure inference with SPU (SEMI2K, ABY3 or CHEETAH)."""

    name: ClassVar[str] = "spu"
    kind: ClassVar[Kind] = Kind.MPC
    min_parties: ClassVar[int] = 2
    max_parties: ClassVar[int] = max(most for _, most in PROTOCOLS.values())
    protocols: ClassVar[dict[str, tuple[int, int]]] = PROTOCOLS
    imports: ClassVar[tuple[str, ...]] = ("spu", "jax", "jaxlib")
    takes_roles: ClassVar[bool] = True
    lacks: ClassVar[dict[type, str]] = {SecureTraining: (
        "SPU trains jax programs it compiles (a gradient step of the whole network), but "
        "the training workload shares a torch module for encrypted autograd, step by "
        "step; an SPU training step (jax.grad of the layer graph's program, compiled "
        "once) is not built")}

    def __init__(self) -> None:
        self._ctx: PartyContext | None = None
        self._links = None
        self._rt = None
        self._io = None
        self._programs = None
        #: slices shared since the last join (the next is input ``x<k>`` of the program)
        self._parts = 0

    @classmethod
    def available(cls) -> str | None:
        missing = [p for p in cls.imports if importlib.util.find_spec(p) is None]
        return f"{' and '.join(missing)} not installed" if missing else None

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {pkg: importlib.metadata.version(pkg) for pkg in cls.imports}

    @classmethod
    def security(cls, case: Case) -> dict[str, Any]:
        proto = str(case.options.get("protocol", OPTIONS["protocol"])).upper()
        info = dict(SECURITY.get(proto, SECURITY[OPTIONS["protocol"]]))
        # additive sharing hides from any n-1 parties; ABY3's replicated sharing from one
        info["threshold"] = 1 if proto == "ABY3" else case.parties - 1
        dealer = 0 if proto == "SEMI2K" else None
        info.update(roles.security_record(case.roles, dealer, info.pop("randomness")))
        return info

    @classmethod
    def resolve(cls, case: Case) -> dict[str, Any]:
        return {**case.options, "protocol": cls.protocol(case), "field": field(case),
                "fxp_fraction_bits": fraction_bits(case)}

    @classmethod
    def value_range(cls, case: Case) -> float:
        """``2**(k - 1 - 2f)`` for a ring of ``k`` bits and ``f`` fractional bits: a
        product carries ``2f`` fractional bits before SPU truncates it."""
        return float(2 ** (int(field(case)[2:]) - 1 - 2 * fraction_bits(case)))

    @classmethod
    def validate(cls, case: Case) -> None:
        super().validate(case)
        unknown = cls.own_options(case) - set(OPTIONS)
        if unknown:
            raise Unsupported(f"unknown spu options {sorted(unknown)}; known: {sorted(OPTIONS)}")
        cls.protocol(case)
        if field(case) not in FIELDS:
            raise Unsupported(f"spu option field must be one of {', '.join(FIELDS)}, "
                              f"got {case.options['field']!r}")
        bits, ring = fraction_bits(case), int(field(case)[2:])
        if not isinstance(bits, int) or not 0 < 2 * bits < ring - 1:
            raise Unsupported(f"spu option fxp_fraction_bits must be an integer from 1 to "
                              f"{(ring - 2) // 2} for {field(case)}, got {bits!r}")

    # -- run phases --------------------------------------------------------------------

    def _config(self, case: Case):
        spu = _spu()
        return spu.RuntimeConfig(protocol=getattr(spu.ProtocolKind, self.protocol(case)),
                                 field=getattr(spu.FieldType, field(case)),
                                 fxp_fraction_bits=fraction_bits(case))

    def setup(self, ctx: PartyContext) -> None:
        """Connect SPU's link and the control link, start SPU's runtime and run one
        small product and comparison of secrets, so that a protocol's one-time setup
        (CHEETAH's keys and OT: about 10 MB) happens here, not in the first batch."""
        from .links import Links

        self.validate(ctx.case)
        spu = _spu()
        self._ctx = ctx
        self._links = Links(list(ctx.addresses[:ctx.parties]), ctx.rank)
        config = self._config(ctx.case)
        self._rt = spu.Runtime(self._links.data, config)
        self._io = spu.Io(ctx.parties, config)
        from .program import Programs, params

        # a product and a comparison of secrets: their one-time setup (CHEETAH's keys
        # and OT) happens in this phase, not in the first batch
        warm = L.Graph.chain([L.Linear(np.zeros((2, 2)), np.zeros(2)), L.ReLU()], (2,))
        self._programs = Programs()
        program = self._programs.of(warm, [(1, 2)])
        for name, value in zip(program.inputs, [*params(warm), np.zeros((1, 2))],
                               strict=True):
            self._share(value if ctx.rank == 0 else None, 0, name)
        self._rt.run(program.executable)

    def prepare(self, graph: L.Graph) -> None:
        """Compile the programs of the case's batches: the inference of each layout of
        data owners' slices, and the cut of each receiver's rows of the logits."""
        case = self._ctx.case
        for lo, hi in roles.batches(case.images, case.batch):
            program = self._programs.of(graph, [
                (s.hi - s.lo, *graph.input_shape)
                for s in roles.split(lo, hi, case.roles.data_owners)])
            receivers = roles.outputs(case.roles, lo, hi)
            if len(receivers) > 1:
                self._programs.rows(program.shape, _spans(receivers, lo))

    def _share(self, value: np.ndarray | None, owner: int, name: str) -> None:
        """Set ``name`` to this party's share of ``owner``'s ``value`` (``None``
        elsewhere): the owner makes every party's share and sends it."""
        if self._ctx.rank == owner:
            made = self._io.make_shares(np.asarray(value, dtype=np.float32),
                                        _spu().Visibility.VIS_SECRET)
            for to, share in enumerate(made):
                if to != owner:
                    self._links.send_share(to, share)
            self._rt.set_var(name, made[owner])
        else:
            self._rt.set_var(name, self._links.recv_share(owner))

    def share_model(self, graph: L.Graph) -> Model:
        from .program import param_names, params

        owner = self._ctx.case.roles.model_owner
        names = param_names(graph)
        for name, value in zip(names, params(graph), strict=True):
            self._share(value, owner, name)
        return Model(graph, names)

    def share_input(self, x: Any, shape: tuple[int, ...], owner: int) -> list[tuple]:
        """Share a slice as the program's next input ``x<k>`` (``k``: slices shared since
        the last :meth:`join`)."""
        name = f"x{self._parts}"
        self._parts += 1
        self._share(None if x is None else np.asarray(x), owner, name)
        return [(name, tuple(shape))]

    def join(self, parts: list[Any]) -> list[tuple]:
        self._parts = 0
        return [p for part in parts for p in part]

    def infer(self, model: Model, x: list[tuple]) -> Logits:
        """Run the program of the batch's layout on the shared model and slices."""
        program = self._programs.of(model.graph, [shape for _, shape in x])
        if list(program.inputs) != [*model.names, *(name for name, _ in x)]:
            raise RuntimeError(f"the program reads {program.inputs}, the batch is {x}")
        self._rt.run(program.executable)
        return Logits(program.outputs[0], program.shape)

    def _open(self, name: str, receiver: int) -> np.ndarray | None:
        share = self._rt.get_var(name)
        if self._ctx.rank != receiver:
            self._links.send_share(receiver, share)
            return None
        got = [share if r == receiver else self._links.recv_share(r)
               for r in range(self._ctx.parties)]
        return np.asarray(self._io.reconstruct(got), dtype=np.float64)

    def reveal(self, y: Logits, receiver: int) -> np.ndarray | None:
        return self._open(y.name, receiver)

    def reveal_batch(self, y: Logits, receivers: list[roles.Slice],
                     batch: tuple[int, int]) -> list[tuple[roles.Slice, np.ndarray]]:
        """Cut each receiver's rows out of the shared logits (a local program), then open
        them to it alone."""
        lo = batch[0]
        if len(receivers) == 1:
            out = self._open(y.name, receivers[0].owner)
            return [] if out is None else [(receivers[0], out)]
        program = self._programs.rows(y.shape, _spans(receivers, lo))
        self._rt.run(program.executable)
        learnt = []
        for s, name in zip(receivers, program.outputs, strict=True):
            out = self._open(name, s.owner)
            if out is not None:
                learnt.append((s, out))
        return learnt

    def barrier(self) -> None:
        self._links.barrier()

    def comm_counters(self) -> CommCounters:
        """Bytes the kernel counted on SPU's connections, read once every byte sent has
        arrived (:meth:`.links.Links.settled`); rounds missing (SPU counts none)."""
        if self._links is None:
            return CommCounters(rounds=None)
        sent, received = self._links.settled()
        return CommCounters(sent, received, rounds=None, method="counted")

    def extra_metrics(self) -> dict[str, tuple[float, str]]:
        return {"link_s": (self._links.seconds, "s"),
                "compile_s": (self._programs.seconds, "s")}

    def run_info(self) -> dict[str, Any]:
        if self._ctx is None:
            return {}
        return {**self.resolve(self._ctx.case), "compiled_programs": self._programs.count,
                "link": "brpc", "beaver": "TrustedFirstParty"
                if self.protocol(self._ctx.case) == "SEMI2K" else None}

    # -- share files -------------------------------------------------------------------

    @classmethod
    def share_encoding(cls, case: Case) -> dict[str, Any]:
        """SPU's shares of the protocol, ring and fixed point of ``case``."""
        return {"scheme": cls.protocol(case), "field": field(case),
                "fxp_fraction_bits": fraction_bits(case)}

    def export_shares(self, model: Model) -> dict[str, np.ndarray]:
        """This party's SPU share of every weight and bias, as the bytes of its message."""
        from .links import pack

        return {name: np.frombuffer(pack(self._rt.get_var(name)), dtype=np.uint8)
                for name in model.names}

    def import_shares(self, arrays: dict[str, np.ndarray], graph: L.Graph) -> Model:
        from .links import unpack
        from .program import param_names

        names = param_names(graph)
        for name in names:
            if name not in arrays:
                raise shares.SharesError(f"the shares hold no array {name}")
            self._rt.set_var(name, unpack(arrays[name].tobytes()))
        return Model(graph, names)

    def teardown(self) -> None:
        if self._links is not None:
            self._links.close()
        self._links = None
