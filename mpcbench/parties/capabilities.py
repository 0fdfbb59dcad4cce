"""What some backends can do beyond the core (:class:`~.base.Backend`): one mixin per
capability. A backend has a capability by inheriting its class and implementing its
methods; the launcher asks for it with ``issubclass`` in one place each:

* :class:`SecureTraining`: :meth:`mpcbench.launch.workloads.training.TrainingRun.validate`;
* :class:`ShareFiles`: :meth:`mpcbench.launch.workloads.base.WorkloadRun.share_encoding`;
* :class:`Dealer`: :attr:`mpcbench.launch.workloads.base.WorkloadRun.dealers`;
* :class:`ValueRange`: :meth:`mpcbench.launch.workloads.inference.InferenceRun.model_record`.

A party calls a capability's methods only in a run the launcher let through. A backend
without a capability may say why in :attr:`~.base.Backend.lacks`.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

import numpy as np

from ..case import Case
from ..models.layers import Graph

if TYPE_CHECKING:  # only a backend with secure training imports torch
    from torch import nn


class SecureTraining(abc.ABC):
    """SGD on secret-shared batches (the ``training`` workload)."""

    @classmethod
    @abc.abstractmethod
    def cannot_train(cls, case: Case) -> str | None:
        """Why this backend cannot run the secure training of ``case`` (e.g. a layer
        without a gradient); ``None`` if it can."""

    @abc.abstractmethod
    def share_trainable(self, model: nn.Module, lr: float) -> Any:
        """Secret-share a torch model from the model owner for SGD at rate ``lr``
        (``model`` holds the initial weights at the model owner, zeros elsewhere)."""

    @abc.abstractmethod
    def train_step(self, model: Any, x: Any, y: Any) -> Any:
        """One SGD step on the shared batch ``x`` with shared one-hot labels ``y``
        (forward, cross-entropy, backward, update); returns the shared loss."""

    @abc.abstractmethod
    def predict(self, model: Any, x: Any) -> Any:
        """Shared logits of the shared trainable ``model`` on ``x`` (evaluation mode)."""


class ShareFiles(abc.ABC):
    """Model shares saved to a file per party and loaded by later runs (:mod:`.shares`)."""

    @classmethod
    @abc.abstractmethod
    def share_encoding(cls, case: Case) -> dict[str, Any]:
        """How this backend's model shares for ``case`` encode values (fixed-point
        precision, ring or field, ...): recorded in a share set's manifest, which a run
        must match to load it."""

    @abc.abstractmethod
    def export_shares(self, model: Any) -> dict[str, np.ndarray]:
        """This party's shares of a model from ``share_model`` or :meth:`import_shares`
        (or of a trained one from :meth:`SecureTraining.share_trainable`, in the same
        layout), ``<layer index>.<weight|bias> -> array`` (saved by :func:`.shares.save`)."""

    @abc.abstractmethod
    def import_shares(self, arrays: dict[str, np.ndarray], graph: Graph) -> Any:
        """The shared model of ``graph`` (structure only, zero parameters) built from this
        party's ``arrays`` (:meth:`export_shares`), without any communication."""


class Dealer(abc.ABC):
    """Dealer processes beside the computing parties (ranks ``parties ..``; started,
    watched and stopped like parties), e.g. a trusted third party for correlated
    randomness."""

    @classmethod
    @abc.abstractmethod
    def dealers(cls, case: Case) -> int:
        """How many dealers a run of ``case`` needs (0: none, e.g. for another option)."""

    @abc.abstractmethod
    def deal(self) -> None:
        """At a dealer, after ``setup``: serve the computing parties until they are done
        (instead of the workload's phases)."""


class ValueRange(abc.ABC):
    """A limit on the magnitude of values (fixed-point encodings): the launcher checks
    the run's model on its images against it before any party starts
    (:func:`mpcbench.models.ranges.check`)."""

    @classmethod
    @abc.abstractmethod
    def value_range(cls, case: Case) -> float:
        """Largest magnitude every value of ``case`` (inputs, pre-activations, compared
        differences) must stay below to be represented exactly."""


__all__ = ["Dealer", "SecureTraining", "ShareFiles", "ValueRange"]
