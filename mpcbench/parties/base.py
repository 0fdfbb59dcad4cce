"""The core every framework implements: :class:`Backend`.

The worker (``parties/worker.py``) drives a backend through its phases and times every
call; a backend only computes. Methods are synchronous (an asyncio framework runs its
own loop inside them) and must not import their framework at module import time. They
take and give numpy arrays, so a party imports only the packages its backend declares
(:attr:`Backend.imports`; a backend that computes with torch converts at its own
boundary, :mod:`.tensors`). What only some backends can do (secure training, share
files, a dealer, a value range) is a capability of its own, in :mod:`.capabilities`.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .. import models, roles
from ..case import Case
from ..errors import InputError
from ..models import layers as L
from ..models import rewrites
from ..models.layers import Graph
from .context import PartyContext


class Kind(enum.StrEnum):
    """What a backend is, as results and reports show it."""

    #: a secure multi-party computation framework
    MPC = "mpc"
    #: the plain framework the secure ones are compared with
    PLAINTEXT = "plaintext"
    #: a non-cryptographic privacy or robustness baseline
    BASELINE = "baseline"


class Unsupported(InputError):
    """A case this backend cannot run (bad party count, unsupported option, ...)."""


@dataclass(frozen=True)
class CommCounters:
    """Cumulative communication of this party since :meth:`Backend.setup`."""

    bytes_sent: int = 0
    bytes_received: int = 0
    #: ``None`` where the backend does not count rounds (stored as missing, not 0)
    rounds: int | None = 0
    #: "counted" (from the transport) or "estimated" (from tensor sizes)
    method: str = "counted"
    #: the part of ``bytes_sent`` / ``bytes_received`` exchanged with a dealer (offline
    #: traffic): 0 where the run has no dealer, ``None`` where it is not told apart
    offline_sent: int | None = 0
    offline_received: int | None = 0


def _span(fewest: int, most: int) -> str:
    """``exactly 3`` or ``2 to 16`` (parties)."""
    return f"exactly {fewest}" if fewest == most else f"{fewest} to {most}"


class Backend(abc.ABC):
    """One framework's way to run secure inference of a layer graph.

    Every backend declares :attr:`name` and :attr:`kind` and implements
    :meth:`versions`, :meth:`security`, :meth:`setup`, :meth:`share_model`,
    :meth:`share_input`, :meth:`infer` and :meth:`reveal`; the rest has defaults.
    """

    #: framework id, equal to the module or subpackage name (``plaintext``, ``crypten``, ...)
    name: ClassVar[str]
    #: the top-level packages a party of this backend imports besides mpcbench's own and
    #: numpy (its framework, torch if it computes with it): a party imports no package
    #: another backend declares unless its own declares it too
    imports: ClassVar[tuple[str, ...]] = ()
    #: what the backend is (every backend declares it); stored on every row of its runs
    kind: ClassVar[Kind]
    #: smallest party count the framework runs with
    min_parties: ClassVar[int] = 2
    #: largest party count the framework runs with
    max_parties: ClassVar[int] = 16
    #: whether :meth:`share_model` takes the layer graph (baselines load their own)
    uses_description: ClassVar[bool] = True
    #: the operations of the layer graph the backend evaluates (others are refused
    #: before launch, :meth:`check_graph`)
    operations: ClassVar[tuple[type, ...]] = L.OPERATIONS
    #: values of the option ``variant``, the default first (``stock``: the framework's own
    #: code paths; ``tuned``: the project's speed-ups); empty: no such option
    variants: ClassVar[tuple[str, ...]] = ()
    #: whether the backend runs any roles (else party 0 must hold model, images and output)
    takes_roles: ClassVar[bool] = False
    #: values of the option ``provider`` (where correlated randomness comes from), the
    #: default first; empty: no such option
    providers: ClassVar[tuple[str, ...]] = ()
    #: values of the option ``protocol``, the default first, each with the fewest and
    #: most parties it runs with; empty: no such option
    protocols: ClassVar[dict[str, tuple[int, int]]] = {}
    #: why the backend lacks a capability (:mod:`.capabilities` class -> reason), said
    #: when a case needs it
    lacks: ClassVar[dict[type, str]] = {}

    @classmethod
    def available(cls) -> str | None:
        """``None`` if the framework can run here, else why not."""
        return None

    @classmethod
    @abc.abstractmethod
    def versions(cls) -> dict[str, str]:
        """Versions of the packages this backend runs on (``package -> version``), stored
        with every run."""

    @classmethod
    @abc.abstractmethod
    def security(cls, case: Case) -> dict[str, Any]:
        """Security model of ``case``: ``protocol, threshold, provider, adversary`` and extras."""

    @classmethod
    def resolve(cls, case: Case) -> dict[str, Any]:
        """Every option of ``case`` with the backend's defaults filled in: what a run of
        ``case`` is configured with (part of the run's identity)."""
        return dict(case.options)

    @classmethod
    def image_shape(cls, case: Case) -> tuple[int, ...]:
        """The shape of one image a run of ``case`` shares: its shared model's (a
        backend with its own model, a baseline's, takes the vendored 1x28x28 images)."""
        return models.input_shape(case.model) if cls.uses_description else models.INPUT_SHAPE

    @classmethod
    def check_graph(cls, graph: Graph) -> None:
        """:class:`Unsupported` naming the first node of ``graph`` whose operation this
        backend does not evaluate (:attr:`operations`)."""
        for i, node in enumerate(graph.nodes):
            if not isinstance(node.op, cls.operations):
                raise Unsupported(f"{cls.name} cannot evaluate node {i} ({node.name}): "
                                  f"{L.describe_op(node.op)}")

    @classmethod
    def own_options(cls, case: Case) -> set[str]:
        """The options of ``case`` the framework itself must know (all but ``rewrite``,
        which the inference workload applies to the layer graph of every framework)."""
        return set(case.options) - {rewrites.OPTION}

    @classmethod
    def weights(cls, case: Case) -> dict[str, str]:
        """SHA-256 of every weights file an inference run of ``case`` uses,
        ``<model>-<dataset> -> hash`` (part of the run's identity): the shared model's, if
        the backend runs the layer graph (a run from shares or of another workload
        says its own: :meth:`mpcbench.launch.workloads.base.WorkloadRun.weights`)."""
        if not cls.uses_description:
            return {}
        return {f"{case.model}-{case.dataset}": models.weights_info(case.model,
                                                                    case.dataset).sha256}

    @classmethod
    def cached_metrics(cls, case: Case) -> frozenset[str]:
        """Metrics a run of ``case`` reports from a cache instead of measuring them (stored
        with ``source = "cached"``)."""
        return frozenset()

    @classmethod
    def variant(cls, case: Case) -> str | None:
        """The ``variant`` option of ``case`` (the default if unset); ``None`` without
        variants. :class:`Unsupported` for a value not in :attr:`variants`."""
        if not cls.variants:
            return None
        value = case.options.get("variant", cls.variants[0])
        if value not in cls.variants:
            raise Unsupported(f"{cls.name} option variant must be one of "
                              f"{', '.join(cls.variants)}, got {value!r}")
        return str(value)

    @classmethod
    def protocols_for(cls, parties: int) -> list[str]:
        """The values of :attr:`protocols` that run with ``parties`` parties."""
        return [p for p, (fewest, most) in cls.protocols.items() if fewest <= parties <= most]

    @classmethod
    def protocol(cls, case: Case) -> str | None:
        """The ``protocol`` option of ``case`` (upper case; the default if unset); ``None``
        without protocols. :class:`Unsupported` for a value not in :attr:`protocols`, or
        a party count the protocol does not run with."""
        if not cls.protocols:
            return None
        value = str(case.options.get("protocol", next(iter(cls.protocols)))).upper()
        if value not in cls.protocols:
            raise Unsupported(f"{cls.name} option protocol must be one of "
                              f"{', '.join(cls.protocols)}, got {value!r}")
        if value not in cls.protocols_for(case.parties):
            raise Unsupported(f"{cls.name} protocol {value} runs with "
                              f"{_span(*cls.protocols[value])} parties, got {case.parties}")
        return value

    @classmethod
    def validate(cls, case: Case) -> None:
        """Raise :class:`Unsupported` for a case this framework cannot run (what its
        workload asks of the backend, e.g. secure training, the workload checks)."""
        if not cls.min_parties <= case.parties <= cls.max_parties:
            raise Unsupported(f"{cls.name} runs with {_span(cls.min_parties, cls.max_parties)} "
                              f"parties, got {case.parties}")
        roles.check(case.roles, case.parties, case.images, case.batch)
        if not cls.takes_roles and not case.roles.is_default:
            raise Unsupported(f"{cls.name} runs with party 0 as model owner, data owner and "
                              f"output party only, got {case.roles.label()}")

    @abc.abstractmethod
    def setup(self, ctx: PartyContext) -> None:
        """Connect to the other parties."""

    def prepare(self, graph: Graph) -> None:  # noqa: B027  optional: nothing to prepare
        """Get ready to evaluate ``graph`` on the case's batches (e.g. compile it), before
        the first repeat; timed as part of ``setup``. Called by the inference workload."""

    @abc.abstractmethod
    def share_model(self, graph: Graph | None) -> Any:
        """Secret-share the model from the model owner.

        Every party gets the layer graph; only the model owner's copy holds the trained
        values (the others hold zeros, see :func:`mpcbench.models.layers.blank`).
        ``graph`` is ``None`` for a backend with ``uses_description = False``.
        """

    @abc.abstractmethod
    def share_input(self, x: np.ndarray | None, shape: tuple[int, ...], owner: int) -> Any:
        """Secret-share a slice of ``shape`` from ``owner``; ``x`` is ``None`` elsewhere."""

    def join(self, parts: list[Any]) -> Any:
        """The shared slices of a batch (in image order) as one shared batch; only
        backends with :attr:`takes_roles` get more than one."""
        if len(parts) != 1:
            raise Unsupported(f"{self.name} cannot join the slices of several data owners")
        return parts[0]

    def share_batch(self, x: np.ndarray | None, slices: list[roles.Slice],
                    rank: int, image: tuple[int, ...]) -> Any:
        """Share batch ``slices`` (:func:`mpcbench.roles.split`) of images of shape
        ``image``, each from its owner, and join them; ``x`` holds the case's images at a
        data owner (``None`` elsewhere), of which a party passes only the slices it owns."""
        parts = [self.share_input(x[s.lo:s.hi] if s.owner == rank else None,
                                  (s.hi - s.lo, *image), s.owner) for s in slices]
        return self.join(parts)

    @abc.abstractmethod
    def infer(self, model: Any, x: Any) -> Any:
        """Evaluate the shared model on the shared batch; returns shared logits."""

    @abc.abstractmethod
    def reveal(self, y: Any, receiver: int) -> np.ndarray | None:
        """Open the logits ``y`` to ``receiver`` only (the others get ``None``)."""

    def reveal_batch(self, y: Any, receivers: list[roles.Slice],
                     batch: tuple[int, int]) -> list[tuple[roles.Slice, np.ndarray]]:
        """Open each receiver's rows of the logits ``y`` of images ``batch`` (``lo, hi``)
        to that receiver only; the rows this party learnt, with their slices."""
        lo, hi = batch
        learnt = []
        for s in receivers:
            whole = (s.lo, s.hi) == (lo, hi)
            out = self.reveal(y if whole else y[s.lo - lo:s.hi - lo], s.owner)
            if out is not None:
                learnt.append((s, out))
        return learnt

    def barrier(self) -> None:  # noqa: B027  optional: a backend without barriers
        """Wait for all parties (used to align phase boundaries)."""

    def comm_counters(self) -> CommCounters:
        """Communication so far; zeros for a backend that does not communicate."""
        return CommCounters(method="none")

    def extra_metrics(self) -> dict[str, tuple[float, str]]:
        """Backend-specific metrics of this party, ``name -> (value, unit)``, stored as rows."""
        return {}

    def run_info(self) -> dict[str, Any]:
        """Backend settings of this run for provenance (after :meth:`setup`)."""
        return {}

    def teardown(self) -> None:  # noqa: B027  optional: nothing to release
        """Disconnect and free resources."""
