"""The launcher's side of a workload (:class:`WorkloadRun`): what a run of one kind
checks before anything launches, what its identity and record say of it, and how it is
scored from what its parties reported. The party's side is
:mod:`mpcbench.parties.workloads`.

Data flows one way through a run: :meth:`~WorkloadRun.check` (before anything launches),
:meth:`~WorkloadRun.model_record` (also before: the range check), the parties' rows,
then :meth:`~WorkloadRun.score` (run-level rows, ``rank = -1``). What a workload loads for
this (test images, the trained model) it loads once, when first needed.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ...case import Case
from ...metrics import RUN_METRICS
from ...models import rewrites
from ...parties.base import Backend, Unsupported
from ...parties.capabilities import Dealer, ShareFiles
from .. import catalog
from ..placement import Placement


class WorkloadRun(abc.ABC):
    """A run of ``case`` with ``backend``, as the launcher sees it."""

    #: the workload's kind (:attr:`mpcbench.case.Inference.kind`, ...), the module's name
    kind: ClassVar[str]

    def __init__(self, case: Case, backend: type[Backend]) -> None:
        self.case, self.backend = case, backend

    @classmethod
    def batch(cls, model: str, images: int, asked: int | None = None) -> int:
        """The batch of a case of ``model`` on ``images`` images: ``asked`` or the
        default, at most the images."""
        return min(asked or cls.default_batch(model, images), images)

    @classmethod
    @abc.abstractmethod
    def default_batch(cls, model: str, images: int) -> int:
        """The batch a case of ``model`` runs unless told otherwise."""

    @classmethod
    def check_model(cls, model: str) -> None:
        """:class:`~mpcbench.models.ModelError` if the workload cannot run ``model`` (a
        shared model or a baseline's own; see :mod:`..catalog`)."""
        catalog.model_module(model)

    def validate(self) -> None:
        """:class:`Unsupported` for what the backend cannot do with this workload; reads
        no file (suites call it for every case they expand). Only inference of the
        layer graph takes a rewrite of it."""
        if rewrites.OPTION in self.case.options:
            raise Unsupported(f"option {rewrites.OPTION} applies to inference of the layer "
                              f"graph, not to {self.case.framework} {self.kind}")

    @abc.abstractmethod
    def check(self) -> None:
        """The data, weights or share set the run reads are there and fit it, before
        anything launches; :class:`~mpcbench.errors.InputError` otherwise."""

    def check_placed(self, placement: Placement) -> None:  # noqa: B027  optional
        """Checks that need the parties' placement (before they start)."""

    def prepare(self, placement: Placement) -> None:  # noqa: B027  optional
        """Make ready on this machine what parties placed by ``placement`` read (after
        the checks, before they start)."""

    @property
    def dealers(self) -> int:
        """How many dealer processes the run needs beside its computing parties (those of
        a backend with the :class:`~mpcbench.parties.capabilities.Dealer` capability)."""
        return self.backend.dealers(self.case) if issubclass(self.backend, Dealer) else 0

    def share_encoding(self) -> dict[str, Any]:
        """How the run's model shares encode values, to save (or load) them:
        :class:`Unsupported` for a backend without the
        :class:`~mpcbench.parties.capabilities.ShareFiles` capability (or a run without
        model shares)."""
        if not issubclass(self.backend, ShareFiles):
            raise Unsupported(f"{self.case.framework} cannot save or load model shares")
        return self.backend.share_encoding(self.case)

    def share_source(self, run_id: str) -> dict[str, Any]:
        """Where the model of the shares that run ``run_id`` saved came from (its
        manifest's ``source``): by default the plaintext weights it shared."""
        return {"weights": self.backend.weights(self.case)}

    def configuration(self) -> dict[str, Any]:
        """The run's configuration (the ``config`` component of its identity): the
        backend's options with their defaults (:meth:`Backend.resolve`)."""
        return self.backend.resolve(self.case)

    def identity_case(self) -> dict[str, Any]:
        """What the workload adds to the ``case`` component of the run's identity."""
        return {}

    def weights(self) -> dict[str, str]:
        """SHA-256 of every weights file (or share set) the run uses, ``name -> hash``
        (the ``weights`` component of its identity)."""
        return {}

    def model_record(self) -> dict[str, Any]:
        """What the run's ``backend_config`` records of the model it shares: the range
        check (:func:`mpcbench.models.ranges.check`; ``None``: not checked) and what the
        layer graph's rewrite changes in it; a range error stops the run here."""
        return {"range": None, "layer_rewrites": []}

    @abc.abstractmethod
    def score(self, per_rank: pd.DataFrame, logits: np.ndarray | None,
              outputs: list[dict], threads: int) -> list[dict]:
        """Run-level rows from every party's rows (``per_rank``), the ``logits`` of every
        image (``None`` if some image's reached no party), the parties' result lines
        and the threads each party had."""


def throughput(case: Case, per_rank: pd.DataFrame) -> dict[str, float]:
    """Images per second and seconds per image of the median repeat (its time: the
    slowest party's ``total``)."""
    totals = per_rank[(per_rank.phase == "total") & (per_rank.metric == "wall_s")
                      & ~per_rank.is_warmup]
    total_s = float(totals.groupby("repeat")["value"].max().median())
    return {"img_per_s": case.images / total_s, "s_per_img": total_s / case.images}


def run_rows(values: dict[str, float]) -> list[dict]:
    """Run-level rows (rank -1, phase ``total``) of :data:`RUN_METRICS` ``values``."""
    return [{"rank": -1, "repeat": 0, "is_warmup": False, "phase": "total", "metric": m,
             "value": v, "unit": RUN_METRICS[m]} for m, v in values.items()]
