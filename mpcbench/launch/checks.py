"""What is checked of a case before anything launches: its framework is there and can
run it, its network profile fits, and its workload's own checks (data, weights, share
set; :mod:`.workloads`) pass. Every refusal is an
:class:`~mpcbench.errors.InputError` (exit 2) and nothing has started yet."""

from __future__ import annotations

from pathlib import Path

from .. import parties
from ..case import NO_NETWORK, Case
from ..parties.base import Backend, Unsupported
from . import share_sets, workloads
from .workloads import WorkloadRun

#: dtypes a case's input may have before sharing
DTYPES = ("float32", "float64")


def validate(case: Case, backend: type[Backend]) -> WorkloadRun:
    """What needs no file: the backend's constraints on ``case`` and its workload's
    (suites check every case they expand with it); the case's workload."""
    backend.validate(case)
    work = workloads.of(case, backend)
    work.validate()
    return work


def check(case: Case, save_shares: Path | None = None) -> WorkloadRun:
    """Validate ``case`` before anything launches (with ``save_shares``: also that its
    run can save model shares there); its workload, with its backend."""
    backend = parties.get(case.framework)
    reason = backend.available()
    if reason:
        raise Unsupported(f"framework {case.framework} is not available here: {reason}")
    work = validate(case, backend)
    if case.network != NO_NETWORK:
        from .network import get_profile

        get_profile(case.network).check(case.parties + work.dealers)
    if case.dtype not in DTYPES:
        raise Unsupported(f"dtype must be float32 or float64, got {case.dtype!r}")
    work.check()
    if save_shares is not None:
        work.share_encoding()
        share_sets.check_unused(save_shares)
    return work
