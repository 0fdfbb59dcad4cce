"""The launcher's side of secret-shared model files (:mod:`mpcbench.parties.shares`):
check a case's share set before its parties start, check where a run may save one, and
write the manifest of the files a run's parties saved.

Which runs load or save shares, and in what encoding, is their workload's to say
(:meth:`.workloads.base.WorkloadRun.share_encoding`); this module only checks and writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..case import Case
from ..parties import shares
from ..parties.base import Backend


def check_set(directory: str, case: Case, encoding: dict[str, Any],
              files: bool = False) -> None:
    """The share set in ``directory`` fits ``case`` (framework, model, dataset, parties,
    layers, ``encoding``) and, with ``files``, every party's file matches the manifest
    (parties on other hosts check their own);
    :class:`~mpcbench.parties.shares.SharesError` otherwise, before any party starts."""
    shares.check(directory, shares.expected(case, encoding), None if files else ())


def check_unused(directory: Path) -> None:
    """``directory`` holds no share set yet (a run may save one there)."""
    if (Path(directory) / shares.MANIFEST).exists():
        raise shares.SharesError(f"{directory} already holds a share set; choose another "
                                 "directory")


def write_share_manifest(case: Case, backend: type[Backend], run_id: str, directory: Path,
                         records: list[dict], encoding: dict[str, Any],
                         source: dict[str, Any]) -> str:
    """The manifest of the share files the parties of run ``run_id`` saved (``records``:
    each party's :func:`~mpcbench.parties.shares.save` record; the set's id is the run
    id), from what every party knows; ``source`` says where the model came from (see
    :meth:`.workloads.base.WorkloadRun.share_source`). Its SHA-256."""
    header = {"set_id": run_id, "run_id": run_id, **shares.expected(case, encoding),
              "framework_versions": backend.versions(), "source": source}
    return shares.write_manifest(directory, header, records)
