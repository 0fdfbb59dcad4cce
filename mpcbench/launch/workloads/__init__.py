"""The launcher's side of every workload, one module per kind (named as the kind:
``inference``, ``micro``, ``training``), each a :class:`~.base.WorkloadRun`; the party's
side is :mod:`mpcbench.parties.workloads`.

The launcher asks :func:`of` once per case and leaves every question about the kind of
run (what to check, what the identity holds, how to score) to the object it returns.
"""

from __future__ import annotations

import importlib
from functools import cache

from ...case import Case, Workload
from ...parties.base import Backend
from .base import WorkloadRun


@cache
def run_class(kind: str) -> type[WorkloadRun]:
    """The :class:`~.base.WorkloadRun` of workloads of ``kind`` (from module ``kind``)."""
    module = importlib.import_module(f"{__name__}.{kind}")
    (found,) = (obj for obj in vars(module).values() if isinstance(obj, type)
                and issubclass(obj, WorkloadRun) and getattr(obj, "kind", None) == kind)
    return found


def of(case: Case, backend: type[Backend]) -> WorkloadRun:
    """The launcher's side of a run of ``case`` with ``backend``."""
    return run_class(case.workload.kind)(case, backend)


def batch(model: str, workload: Workload, images: int, asked: int | None = None) -> int:
    """The batch of a case of ``model`` with ``workload`` on ``images`` images (``asked``
    or the workload's default)."""
    return run_class(workload.kind).batch(model, images, asked)


__all__ = ["WorkloadRun", "batch", "of", "run_class"]
