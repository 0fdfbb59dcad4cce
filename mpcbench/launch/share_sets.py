"""The launcher's side of secret-shared model files (:mod:`mpcbench.parties.shares`):
check a case's share set before its parties start, check where a run may save one, and
write the manifest of the files a run's parties saved."""

from __future__ import annotations

from pathlib import Path

from ..case import MICRO, Case
from ..parties import shares
from ..parties.base import Backend, Unsupported


def _share_encoding(case: Case, backend: type[Backend]) -> dict:
    if case.model == MICRO:
        raise Unsupported("the sharing micro-benchmark has no model to save or load as shares")
    encoding = backend.share_encoding(case) if backend.uses_description else None
    if encoding is None:
        raise Unsupported(f"{case.framework} cannot save or load model shares")
    return encoding


def check_shares(case: Case, backend: type[Backend], files: bool = False) -> None:
    """The case's share set fits it (framework, model, dataset, parties, layers, encoding)
    and, with ``files``, every party's file matches the manifest (parties on other hosts
    check their own); :class:`~mpcbench.parties.shares.SharesError` otherwise, before
    any party starts."""
    shares.check(case.shares, shares.expected(case, _share_encoding(case, backend)),
                 None if files else ())


def check_save_shares(case: Case, backend: type[Backend], directory: Path) -> None:
    """The backend can save model shares and ``directory`` holds no share set yet."""
    _share_encoding(case, backend)
    if (Path(directory) / shares.MANIFEST).exists():
        raise shares.SharesError(f"{directory} already holds a share set; choose another "
                                 "directory")


def write_share_manifest(case: Case, backend: type[Backend], run_id: str, directory: Path,
                         records: list[dict], source: dict | None = None) -> str:
    """The manifest of the share files the parties of run ``run_id`` saved (``records``:
    each party's :func:`~mpcbench.parties.shares.save` record; the set's id is the run
    id), from what every party knows; ``source`` says where the model came from (default:
    the plaintext weights it shared, or for a training run :func:`training_source`). Its
    SHA-256."""
    header = {"set_id": run_id, "run_id": run_id,
              **shares.expected(case, _share_encoding(case, backend)),
              "framework_versions": backend.versions(),
              "source": source or (training_source(case, run_id) if case.training
                                   else {"weights": backend.weights(case)})}
    return shares.write_manifest(directory, header, records)


def training_source(case: Case, run_id: str) -> dict:
    """Where a trained share set came from: secure training run ``run_id`` of ``case``
    after its steps (from the seed's initial weights, no weights file)."""
    t = case.training
    return {"secure_training": {"run_id": run_id, "steps": t.steps, "lr": t.lr,
                                "seed": t.seed, "batch": case.batch,
                                "train_images": t.train_images, "dataset": case.dataset}}
