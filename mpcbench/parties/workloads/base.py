"""The party's side of a workload (:class:`WorkloadParty`): the timed phases a computing
party runs for a case of one kind, and what it learnt (:class:`Learnt`). The launcher's
side is :mod:`mpcbench.launch.workloads`.

Data and models are loaded outside the timed phases; every phase is timed by the
:class:`~mpcbench.parties.profiler.Profiler` the party program hands over.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ... import roles
from ...case import Case
from .. import shares
from ..base import Backend
from ..context import PartyContext
from ..profiler import Profiler

#: called with the units of progress done since the last call (batches or steps)
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Learnt:
    """What a party reports besides its rows: the logits it learnt by image index, the
    losses (at the model owner of a training run), and the record of its file of model
    shares (if the run saved them; :func:`.shares.save`)."""

    logits: dict[int, np.ndarray] = field(default_factory=dict)
    losses: list[float] | None = None
    shares: dict[str, Any] | None = None


class WorkloadParty(abc.ABC):
    """What a computing party does in a run of one kind of workload."""

    #: the workload's kind (:attr:`mpcbench.case.Inference.kind`, ...), the module's name
    kind: ClassVar[str]

    @classmethod
    def steps(cls, case: Case) -> int:
        """Units of progress a party reports in a run of ``case``: by default one per
        batch of every repeat."""
        return (case.warmup + case.repeats) * len(roles.batches(case.images, case.batch))

    @classmethod
    @abc.abstractmethod
    def run(cls, ctx: PartyContext, backend: Backend, prof: Profiler,
            progress: Progress) -> Learnt:
        """Run the case's timed phases with ``backend`` (after its setup), reporting
        ``progress``; what this party learnt."""


def save_shares(ctx: PartyContext, backend: Backend, model: object) -> dict[str, Any]:
    """This party's own file of its shares of ``model`` (shared or trained) in the run's
    ``save_shares`` directory, after the timed phases; its record."""
    return shares.save(ctx.save_shares, ctx.rank, ctx.run_id, backend.export_shares(model))
