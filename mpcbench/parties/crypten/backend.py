"""CrypTen backend: additive secret sharing over the 64-bit ring, one process per party.

The model is shared from the layer graph (:mod:`mpcbench.models.layers`), not through
``crypten.nn.from_pytorch`` (whose ONNX path refuses Sign): every weight and bias
becomes one encrypted tensor from the model owner, and each node becomes a step of
CrypTen tensor operations (:mod:`.layers`).

Option ``variant``: ``stock`` (default) runs CrypTen's own code only (its tensor
operations, its ``max_pool2d``, its TFP provider, its generators and communicator);
``tuned`` adds the project's local speed-ups (:mod:`.speedups`) and its max-pool tree
(:func:`.layers.max_pool`). :meth:`CryptenBackend.security` says what ``tuned`` changes
in the messages. Option ``provider``: CrypTen's ``TFP`` (default: party 0 draws every
Beaver triple and mask itself) or ``TTP``: CrypTen's trusted third party, its
``TTPServer``, run as a dealer process of its own (rank ``parties``, beside the computing
parties; :meth:`CryptenBackend.deal`). Party 0 requests every triple from it and it sends
party 0's shares back, the other parties draw theirs from generators seeded by it: the
bytes on the connections to the dealer are the run's offline traffic.
"""

from __future__ import annotations

import importlib.metadata
import ipaddress
import os
import time
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from ... import models, roles
from ...case import Case
from ...models import layers as L
from .. import shares, tensors
from ..base import Backend, CommCounters, Kind, Unsupported
from ..capabilities import Dealer, SecureTraining, ShareFiles, ValueRange
from ..context import PartyContext
from ..tcp_counters import TcpCounters, established, local_endpoints, to_others
from . import speedups, training
from .layers import Step, layer_step, plain_params, share_params

PROVIDERS = ("TFP", "TTP")
#: most reads of the TCP counters while waiting for bytes in flight (1 ms apart)
_SETTLE_TRIES = 1000
#: case options this backend understands, with their defaults
OPTIONS: dict[str, Any] = {"provider": "TFP", "variant": "stock"}
#: CrypTen's fixed-point encoding: fractional bits of every value (``encoder.precision_bits``)
PRECISION_BITS = 16
#: what ``variant=tuned`` changes in what the parties compute and send (security record)
TUNED_CHANGES = (
    "PRG: numpy SFC64 streams seeded with CrypTen's 64-bit seeds instead of torch mt19937 "
    "(neither cryptographic)",
    "2-party zero sharings (PRZS) from one shared stream (r, -r) instead of two",
    "TFP: only party 0 computes Beaver triples (others compute sizes); same messages",
    "openings: several tensors batched into one all-reduce; between 2 parties one "
    "isend/irecv exchange instead of gloo's ring (same payload, fewer messages)",
    "max pooling: the project's tree of b + relu(a - b) (fewer comparisons, no one-hot "
    "argmax) instead of CrypTen's max_pool2d: fewer rounds and bytes",
    "configuration reads from a cached copy of crypten.cfg; glibc keeps freed memory",
)

@dataclass(frozen=True, eq=False)
class SharedModel:
    """The shared model: its graph, one step per node, and the encrypted parameters of
    each node (what :meth:`CryptenBackend.export_shares` saves)."""

    graph: L.Graph
    steps: list[Step]
    params: list[dict[str, Any]]


def _crypten() -> ModuleType:
    from .compat import import_crypten

    return import_crypten()


def _interface_of(address: str) -> str | None:
    """The network interface holding ``address`` on this host, if any."""
    import psutil

    for name, addrs in psutil.net_if_addrs().items():
        if any(a.address == address for a in addrs):
            return name
    return None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class CryptenBackend(Backend, SecureTraining, ShareFiles, Dealer, ValueRange):
    """Secure inference with CrypTen (``crypten.mpc``, gloo communicator)."""

    name = "crypten"
    imports = ("crypten", "torch")
    kind = Kind.MPC
    variants = ("stock", "tuned")
    takes_roles = True
    providers = PROVIDERS

    def __init__(self) -> None:
        self._ctx: PartyContext | None = None
        self._crypten: ModuleType | None = None
        self._tcp: TcpCounters | None = None
        self._allocator_tuned = False
        self._barrier_group = None
        #: the counted connections to the dealer (TTP), a subset of those of ``_tcp``
        self._to_dealer: set = set()

    # -- class-level facts -------------------------------------------------------------

    @classmethod
    def available(cls) -> str | None:
        try:
            _crypten()
        except Exception as exc:  # any import failure makes the framework unavailable
            return f"crypten cannot be imported: {type(exc).__name__}: {exc}"
        return None

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"crypten": importlib.metadata.version("crypten")}

    @staticmethod
    def _provider(case: Case) -> str:
        return str(case.options.get("provider", OPTIONS["provider"])).upper()

    @classmethod
    def _tuned(cls, case: Case) -> bool:
        """Whether the project's code (:mod:`.speedups`, the max-pool tree) runs."""
        return cls.variant(case) == "tuned"

    @classmethod
    def value_range(cls, case: Case) -> float:
        """``2**31``: a product carries ``2 * 16`` fractional bits in the signed 64-bit ring
        before CrypTen truncates it, so a pre-activation must stay below ``2**(63 - 32)``
        in magnitude (single values and compared differences: below ``2**47``; CrypTen's
        comparison itself works on the whole ring)."""
        return float(2 ** (63 - 2 * PRECISION_BITS))

    @classmethod
    def security(cls, case: Case) -> dict[str, Any]:
        provider = cls._provider(case)
        return {
            "protocol": "arithmetic secret sharing (CrypTen, 64-bit ring)",
            # n-out-of-n additive sharing: any n-1 colluding parties learn nothing ...
            "threshold": case.parties - 1,
            "provider": provider,
            "adversary": "semi-honest",
            # ... but the TFP provider generates every Beaver triple and conversion mask
            # in the clear at party 0 (no offline communication), so privacy against
            # party 0 rests on trusting it as the dealer.
            "dealer": ("party 0 (trusted first party)" if provider == "TFP" else
                       f"a separate party (rank {case.parties}), not a data or model owner"),
            # ... and whether that dealer also holds the model or images it protects
            **roles.security_record(
                case.roles, 0 if provider == "TFP" else case.parties,
                "TFP: party 0 generates every Beaver triple and mask in the clear"
                if provider == "TFP" else "TTP: a dealer process that holds no inputs"),
            "prg": ("SFC64, not cryptographic" if cls._tuned(case)
                    else "torch mt19937 with 32-bit seeds, not cryptographic"),
            "variant": cls.variant(case),
            "tuned_changes": list(TUNED_CHANGES) if cls._tuned(case) else [],
        }

    @classmethod
    def resolve(cls, case: Case) -> dict[str, Any]:
        return {**OPTIONS, **case.options, "provider": cls._provider(case),
                "variant": cls.variant(case)}

    @classmethod
    def dealers(cls, case: Case) -> int:
        """One with the TTP provider: CrypTen's ``TTPServer``, rank ``parties``."""
        return 1 if cls._provider(case) == "TTP" else 0

    @classmethod
    def validate(cls, case: Case) -> None:
        super().validate(case)
        provider = cls._provider(case)
        if provider not in PROVIDERS:
            raise Unsupported(f"unknown crypten provider {provider!r}; use one of {PROVIDERS}")
        unknown = cls.own_options(case) - set(OPTIONS)
        if unknown:
            raise Unsupported(
                f"unknown crypten options {sorted(unknown)}; known: {sorted(OPTIONS)}")
        cls.variant(case)

    @classmethod
    def cannot_train(cls, case: Case) -> str | None:
        """CrypTen trains with its encrypted autograd every sequential model of linear,
        conv, ReLU, max-pool, dropout and flatten layers (not ``bnn``: Sign has no
        gradient). With ``variant=tuned`` the project's speed-ups of CrypTen's primitives
        (:mod:`.speedups`) run in training too; max pooling stays CrypTen's own (its
        one-hot argmax is what the backward pass needs)."""
        return training.untrainable(models.build(case.model))

    # -- run phases --------------------------------------------------------------------

    @property
    def _ct(self) -> ModuleType:
        if self._crypten is None:
            raise RuntimeError("CryptenBackend.setup() has not run")
        return self._crypten

    def setup(self, ctx: PartyContext) -> None:
        """Join the gloo process group of all parties and seed CrypTen's generators.

        With the TTP provider CrypTen's world has one more rank, the dealer (``WORLD_SIZE``
        stays the computing parties' count; CrypTen adds the dealer itself), whose
        generators it seeds. The computing parties tell their connections to the dealer
        from the others by the endpoints they show each other."""
        self.validate(ctx.case)
        tensors.use_threads(ctx.threads)
        host = ctx.addresses[0].rsplit(":", 1)[0]
        env = {
            "RANK": str(ctx.rank),
            "WORLD_SIZE": str(ctx.parties),
            "RENDEZVOUS": f"tcp://{ctx.addresses[0]}",
            "DISTRIBUTED_BACKEND": "gloo",
            # no world-wide barrier after creating a group: the dealer (TTP) creates only
            # CrypTen's groups, not the parties' barrier group
            "TORCH_DIST_INIT_BARRIER": "0",
        }
        own = ctx.addresses[ctx.rank].rsplit(":", 1)[0]
        interface = "lo" if _is_loopback(host) else _interface_of(own)
        if interface:  # gloo's default (the hostname's address) may not resolve at all
            env["GLOO_SOCKET_IFNAME"] = interface
        os.environ.update(env)
        crypten = _crypten()
        if self._tuned(ctx.case):
            self._allocator_tuned = speedups.enable()
        else:
            speedups.disable()
        # dotted writes replace CrypTen's config (section attributes may be read-only views)
        crypten.cfg["communicator.verbose"] = True
        crypten.cfg["mpc.provider"] = self._provider(ctx.case)
        rendezvous_port = int(ctx.addresses[0].rsplit(":", 1)[1])
        before = established()
        crypten.init()
        # gloo connects every pair of parties while crypten.init() creates its groups;
        # the rendezvous store's connections are not party-to-party traffic.
        conns = established(exclude_ports=(rendezvous_port,)) - before
        tcp = TcpCounters(conns)
        self._ctx, self._crypten = ctx, crypten
        self._tcp = tcp if tcp.available() else None
        if ctx.is_dealer:
            return
        # barriers on a group of the computing parties only: its connections, opened
        # after the counted ones, carry no counted bytes (barrier messages are not the
        # protocol's traffic). The dealer does not create it: torch names a group by the
        # count of groups created before (the same at every party), and without
        # TORCH_DIST_INIT_BARRIER no rank outside a group waits for its creation.
        import torch.distributed as dist

        self._barrier_group = dist.new_group(ranks=list(range(ctx.parties)), backend="gloo")
        if self.dealers(ctx.case):
            ends: list[list[tuple[str, int]]] = [[] for _ in range(ctx.parties)]
            dist.all_gather_object(ends, sorted(local_endpoints(conns)),
                                   group=self._barrier_group)
            self._to_dealer = to_others(conns, {tuple(e) for es in ends for e in es})

    def deal(self) -> None:
        """CrypTen's own ``TTPServer``: answer party 0's requests until it says
        ``terminate`` (or a party's connection breaks)."""
        from crypten.mpc.provider.ttp_provider import TTPServer

        with warnings.catch_warnings():  # its crypten.init() finds setup's: a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            TTPServer()

    def share_model(self, graph: L.Graph) -> SharedModel:
        bits = self._ct.cfg.encoder.precision_bits
        owner = self._ctx.case.roles.model_owner
        params = [share_params(self._ct, lay, owner, bits) for lay in graph.ops]
        return self._model(graph, params)

    def _model(self, graph: L.Graph, params: list[dict[str, Any]]) -> SharedModel:
        tree = self._tuned(self._ctx.case)
        return SharedModel(graph, [layer_step(self._ct, lay, p, tree)
                                   for lay, p in zip(graph.ops, params, strict=True)], params)

    @classmethod
    def share_encoding(cls, case: Case) -> dict[str, Any]:
        """Additive shares over the ring of 64-bit integers, :data:`PRECISION_BITS`
        fractional bits."""
        return {"scheme": "additive", "ring": "Z/2^64", "precision_bits": PRECISION_BITS}

    def export_shares(self, model: SharedModel | training.Trainable) -> dict[str, np.ndarray]:
        """This party's int64 ring shares of every parameter (layout of
        :func:`.layers.plain_params`), of a shared model or of a trained one
        (:func:`.training.layer_params`)."""
        params = (training.layer_params(model, models.structure(self._ctx.case.model))
                  if isinstance(model, training.Trainable) else model.params)
        return {f"{i}.{name}": t.share.numpy().copy()
                for i, p in enumerate(params) for name, t in p.items()}

    def import_shares(self, arrays: dict[str, np.ndarray], graph: L.Graph) -> SharedModel:
        """``MPCTensor.from_shares`` of this party's ring shares of every parameter."""
        bits = self._ct.cfg.encoder.precision_bits
        if bits != PRECISION_BITS:
            raise Unsupported(f"crypten encodes with {bits} fractional bits, the shares "
                              f"with {PRECISION_BITS}")
        from_shares = self._ct.mpc.MPCTensor.from_shares
        params = [{name: from_shares(torch.from_numpy(
                       shares.take(arrays, f"{i}.{name}", a.shape).astype(np.int64)),
                       precision=bits)
                   for name, a in plain_params(lay).items()}
                  for i, lay in enumerate(graph.ops)]
        return self._model(graph, params)

    def share_input(self, x: np.ndarray | None, shape: tuple[int, ...], owner: int) -> Any:
        plain = torch.zeros(shape) if x is None else tensors.tensor(x)
        return self._ct.cryptensor(plain, src=owner)

    def join(self, parts: list[Any]) -> Any:
        return parts[0] if len(parts) == 1 else self._ct.cat(parts, dim=0)

    def infer(self, model: SharedModel, x: Any) -> Any:
        with self._ct.no_grad():
            return model.graph.run(x, lambda i, _node, ins: model.steps[i](*ins))

    def share_trainable(self, model: nn.Module, lr: float) -> training.Trainable:
        return training.share(self._ct, model, self._ctx.case.roles.model_owner, lr)

    def train_step(self, model: training.Trainable, x: Any, y: Any) -> Any:
        return training.step(model, x, y)

    def predict(self, model: training.Trainable, x: Any) -> Any:
        return training.predict(self._ct, model, x)

    def reveal(self, y: Any, receiver: int) -> np.ndarray | None:
        out = y.get_plain_text(dst=receiver)
        return tensors.array(out) if self._ctx.rank == receiver else None

    def barrier(self) -> None:
        # torch.distributed directly, on the barrier group: CrypTen's own barrier would
        # count as a round, and as bytes on the counted connections.
        import torch.distributed as dist

        dist.barrier(group=self._barrier_group)

    def _crypten_stats(self) -> dict[str, float]:
        return self._ct.communicator.get().get_communication_stats()

    def _settled_read(self) -> tuple[int, int, int, int]:
        """This party's TCP counters, read when every byte any party sent to another
        computing party has arrived: sent, received, and of them to and from the dealer.

        The kernel counts a byte received when it processes the segment, which can lag
        behind the sender's count (e.g. while the receiving socket is busy); a message a
        peer does not wait for may also still be on its way. All parties read together
        (the profiler reads at the same points of every party) and sum ``sent -
        received`` (without the dealer's connections) on the barrier group (uncounted
        connections) until it is zero, so the bytes sent in a phase over all parties equal
        the bytes received in it. (Party 0 waits for every answer of the dealer, so the
        offline bytes are complete without waiting.)
        """
        import torch.distributed as dist

        gap = torch.zeros(1, dtype=torch.int64)
        for _ in range(_SETTLE_TRIES):
            sent, received = self._tcp.read()
            off_sent, off_received = self._tcp.subtotal(self._to_dealer)
            gap[0] = (sent - off_sent) - (received - off_received)
            dist.all_reduce(gap, group=self._barrier_group)
            if int(gap[0]) == 0:
                break
            time.sleep(0.001)
        return sent, received, off_sent, off_received

    def comm_counters(self) -> CommCounters:
        """Bytes counted on gloo's sockets by the kernel; rounds from CrypTen's log.

        Bytes are ``"counted"``: what this party's party-to-party TCP connections
        carried (payload and gloo framing, read with ``TCP_INFO``), read after a barrier
        on a group of its own (uncounted connections) once all sent bytes have arrived
        (:meth:`_settled_read`). CrypTen's own
        ``bytes`` statistic is an estimate from tensor sizes (8 bytes per element, sent
        and received summed, a fixed model per collective that is off for gloo's ring
        at more than two parties); it is kept as the extra metric
        ``crypten_estimated_bytes``. ``rounds`` is CrypTen's count of communicator
        calls (one per opening or exchange; a batched opening of several tensors is
        one call). Where the kernel gives no byte counts, CrypTen's estimate is split
        evenly between sent and received and the method is ``"estimated"``.

        Offline bytes are those on the connections to the dealer (TTP; all of the
        dealer's own), 0 without one (TFP); estimated ones are not told apart (missing).
        With TTP, party 0's rounds include its requests to the dealer (CrypTen counts
        every communicator call).
        """
        if self._crypten is None:
            return CommCounters()
        stats = self._crypten_stats()
        rounds = int(stats["rounds"])
        dealer = self._ctx.is_dealer
        if self._tcp is not None:
            if dealer:  # no barrier group: every byte it moves is offline
                sent, received = self._tcp.read()
                return CommCounters(sent, received, rounds, "counted", sent, received)
            sent, received, off_sent, off_received = self._settled_read()
            return CommCounters(sent, received, rounds, "counted", off_sent, off_received)
        total = int(stats["bytes"])
        offline = None if dealer or self.dealers(self._ctx.case) else 0
        return CommCounters(total - total // 2, total // 2, rounds, "estimated",
                            offline, offline)

    def extra_metrics(self) -> dict[str, tuple[float, str]]:
        return {"crypten_estimated_bytes": (float(self._crypten_stats()["bytes"]), "B")}

    def run_info(self) -> dict[str, Any]:
        cfg = self._ct.cfg
        return {
            "variant": self.variant(self._ctx.case),
            "speedups": speedups.enabled(),
            "max_pool": "project tree" if self._tuned(self._ctx.case) else "crypten max_pool2d",
            "allocator_tuned": self._allocator_tuned,
            "precision_bits": int(cfg.encoder.precision_bits),
            "provider": str(cfg.mpc.provider),
            "protocol": str(cfg.mpc.protocol),
            "active_security": bool(cfg.mpc.active_security),
            "distributed_backend": os.environ.get("DISTRIBUTED_BACKEND", ""),
            "torch_threads": torch.get_num_threads(),
        }

    def teardown(self) -> None:
        if self._crypten is not None and self._crypten.is_initialized():
            self._crypten.uninit()
        self._crypten = None
