"""Case defaults, in one place for the command line and suites: what a case does not
say is filled in here (the model a framework runs, the party count, the workload its
model name makes and that workload's batch). The plain values are
:mod:`mpcbench.case`'s (:data:`~mpcbench.case.DEFAULT_MODEL`,
:data:`~mpcbench.case.DEFAULT_PARTIES`, :data:`~mpcbench.case.DEFAULT_IMAGES`), where the
command line reads them without importing a backend."""

from __future__ import annotations

from typing import Any

from .. import parties as backends
from ..case import DEFAULT_IMAGES, DEFAULT_MODEL, DEFAULT_PARTIES, Case, Workload, workload_of
from ..parties.base import Backend
from . import workloads


def default_model(backend: type[Backend]) -> str:
    """The model a run of ``backend`` names unless told otherwise: a baseline's own model,
    else :data:`DEFAULT_MODEL`."""
    own = getattr(backend, "model_module", None)
    return own.NAME if own is not None else DEFAULT_MODEL


def default_parties(backend: type[Backend]) -> int:
    """The parties of a run of ``backend`` unless told otherwise."""
    return min(DEFAULT_PARTIES, backend.max_parties)


def case(framework: str, model: str | None = None, *, parties: int | None = None,
         images: int = DEFAULT_IMAGES, batch: int | None = None, workload: Workload | None = None,
         **fields: Any) -> Case:
    """A case of ``framework`` with what is not given filled in: the model
    (:func:`default_model`), the parties (:func:`default_parties`), the workload (for
    model micro the sharing micro-benchmark, else inference) and the batch (the
    workload's default for the model, at most the images for a batch of the test
    images); ``fields`` are the case's others. :class:`~mpcbench.models.ModelError` for
    a model the workload cannot run."""
    backend = backends.get(framework)
    model = default_model(backend) if model is None else model
    workload = workload_of(model, workload)
    run = workloads.run_class(workload.kind)
    run.check_model(model)
    return Case(framework, model, parties=default_parties(backend) if parties is None
                else parties, images=images, batch=run.batch(model, images, batch),
                workload=workload, **fields)
