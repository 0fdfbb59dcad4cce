"""The one small interface every framework implements, and what a party knows about its run.

The worker (``parties/worker.py``) drives a backend through its phases and times every
call; a backend only computes. Methods are synchronous (an asyncio framework runs its
own loop inside them) and must not import their framework at module import time.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from .. import models
from ..case import MICRO, Case
from ..errors import InputError
from ..models.layers import Layer
from . import shares


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
class PartyContext:
    """Everything a party needs to join a run."""

    rank: int
    parties: int
    #: ``host:port`` of every party, indexed by rank (also the rendezvous for rank 0)
    addresses: tuple[str, ...]
    case: Case
    #: rank that owns (and secret-shares) the input images
    data_owner: int = 0
    #: rank that owns (and secret-shares) the model weights
    model_owner: int = 0
    #: rank that learns the revealed logits
    output_party: int = 0
    threads: int = 1
    #: id of the run (the launcher's)
    run_id: str = ""
    #: directory each party writes its shares of the shared model to (:mod:`.shares`)
    save_shares: str | None = None


@dataclass(frozen=True)
class CommCounters:
    """Cumulative communication of this party since :meth:`Backend.setup`."""

    bytes_sent: int = 0
    bytes_received: int = 0
    #: ``None`` where the backend does not count rounds (stored as missing, not 0)
    rounds: int | None = 0
    #: "counted" (from the transport) or "estimated" (from tensor sizes)
    method: str = "counted"


class Backend(abc.ABC):
    """One framework's way to run secure inference of a layer description."""

    #: framework id, equal to the module or subpackage name (``plaintext``, ``crypten``, ...)
    name: ClassVar[str]
    #: what the backend is (every backend declares it); stored on every row of its runs
    kind: ClassVar[Kind]
    #: smallest party count the framework runs with
    min_parties: ClassVar[int] = 2
    #: largest party count the framework runs with
    max_parties: ClassVar[int] = 16
    #: whether :meth:`share_model` takes the layer description (baselines load their own)
    uses_description: ClassVar[bool] = True
    #: values of the option ``variant``, the default first (``stock``: the framework's own
    #: code paths; ``tuned``: the project's speed-ups); empty: no such option
    variants: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def available(cls) -> str | None:
        """``None`` if the framework can run here, else why not."""
        return None

    @classmethod
    def versions(cls) -> dict[str, str]:
        """Versions of the packages this backend runs on (``package -> version``), stored
        with every run."""
        return {}

    @classmethod
    def security(cls, case: Case) -> dict[str, Any]:
        """Security model of ``case``: ``protocol, threshold, provider, adversary`` and extras."""
        return {"protocol": "none", "threshold": None, "provider": "none", "adversary": "none"}

    @classmethod
    def resolve(cls, case: Case) -> dict[str, Any]:
        """Every option of ``case`` with the backend's defaults filled in: what a run of
        ``case`` is configured with (part of the run's identity)."""
        return dict(case.options)

    @classmethod
    def weights(cls, case: Case) -> dict[str, str]:
        """SHA-256 of every weights file a run of ``case`` uses, ``<model>-<dataset> ->
        hash`` (part of the run's identity): the shared model's, if the backend runs the
        layer description; the share set's manifest, for a model loaded from shares."""
        if case.model == MICRO or not cls.uses_description:
            return {}
        if case.shares:
            return {f"{case.model}-{case.dataset}-shares": shares.manifest_sha256(case.shares)}
        return {f"{case.model}-{case.dataset}": models.weights_info(case.model,
                                                                    case.dataset).sha256}

    @classmethod
    def share_encoding(cls, case: Case) -> dict[str, Any] | None:
        """How this backend's model shares for ``case`` encode values (fixed-point
        precision, ring or field, ...): recorded in a share set's manifest, which a run
        must match to load it (:mod:`.shares`); ``None``: no model shares to save or load."""
        return None

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
    def value_range(cls, case: Case) -> float | None:
        """Largest magnitude every value of ``case`` (inputs, pre-activations, compared
        differences) must stay below to be represented exactly; ``None``: no limit
        worth checking (floating point)."""
        return None

    @classmethod
    def validate(cls, case: Case) -> None:
        """Raise :class:`Unsupported` for a case this framework cannot run."""
        if not cls.min_parties <= case.parties <= cls.max_parties:
            span = (
                f"exactly {cls.min_parties}"
                if cls.min_parties == cls.max_parties
                else f"{cls.min_parties} to {cls.max_parties}"
            )
            raise Unsupported(f"{cls.name} runs with {span} parties, got {case.parties}")

    @abc.abstractmethod
    def setup(self, ctx: PartyContext) -> None:
        """Connect to the other parties."""

    @abc.abstractmethod
    def share_model(self, layers: list[Layer] | None) -> Any:
        """Secret-share the model from the model owner.

        Every party gets the layer structure; only the model owner's copy holds the
        trained values (the others hold zeros, see :func:`mpcbench.models.layers.blank`).
        ``layers`` is ``None`` for a backend with ``uses_description = False``.
        """

    def export_shares(self, model: Any) -> dict[str, np.ndarray]:
        """This party's shares of a model from :meth:`share_model` or :meth:`import_shares`,
        ``<layer index>.<weight|bias> -> array`` (saved by :func:`.shares.save`)."""
        raise Unsupported(f"{self.name} cannot save model shares")

    def import_shares(self, arrays: dict[str, np.ndarray], layers: list[Layer]) -> Any:
        """The shared model of ``layers`` (structure only, zero parameters) built from this
        party's ``arrays`` (:meth:`export_shares`), without any communication."""
        raise Unsupported(f"{self.name} cannot load model shares")

    @abc.abstractmethod
    def share_input(self, x: torch.Tensor | None, shape: tuple[int, ...]) -> Any:
        """Secret-share a batch of ``shape``; ``x`` is ``None`` except at the data owner."""

    @abc.abstractmethod
    def infer(self, model: Any, x: Any) -> Any:
        """Evaluate the shared model on the shared batch; returns shared logits."""

    @abc.abstractmethod
    def reveal(self, y: Any) -> torch.Tensor | None:
        """Open the logits to the output party (others get ``None``)."""

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
