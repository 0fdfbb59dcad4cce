"""The party's side of every workload, one module per kind (named as the kind:
``inference``, ``micro``, ``training``), each a :class:`~.base.WorkloadParty`; the
launcher's side is :mod:`mpcbench.launch.workloads`.

The party program asks :func:`of` once and imports only the module of its case's
workload (after its pulse beats); inference and the micro-benchmark import no torch
(their backends take numpy arrays), training does (it runs on CrypTen).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the package itself imports nothing heavy
    from ...case import Case
    from .base import WorkloadParty


def of(case: Case) -> type[WorkloadParty]:
    """What a computing party of ``case`` runs (from the module of its workload's kind)."""
    from .base import WorkloadParty

    kind = case.workload.kind
    module = importlib.import_module(f"{__name__}.{kind}")
    (found,) = (obj for obj in vars(module).values() if isinstance(obj, type)
                and issubclass(obj, WorkloadParty) and getattr(obj, "kind", None) == kind)
    return found


__all__ = ["of"]
