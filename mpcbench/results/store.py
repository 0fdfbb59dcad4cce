"""Append-only parquet store: one file per run, never rewritten.

A results directory holds ``NNNN-<run_id>.parquet`` files. :func:`append` writes a new
file atomically (temporary file, then a hard link that fails rather than overwrite);
:func:`load` concatenates every file, checking each against the schema.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from ..errors import MpcbenchError
from .schema import COLUMNS, SCHEMA_VERSION, SchemaError, conform, migrate

_NAME = re.compile(r"^(\d{4,})-(.+)\.parquet$")


class ResultsError(MpcbenchError):
    """A results directory or file cannot be read or written."""


def run_files(results_dir: Path) -> list[Path]:
    """Result files of a directory in the order they were appended."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        return []
    return sorted(p for p in results_dir.iterdir() if _NAME.match(p.name))


def append(df: pd.DataFrame, results_dir: Path) -> Path:
    """Store the rows of one run as a new file in ``results_dir``; return its path."""
    run_ids = df["run_id"].unique()
    if len(run_ids) != 1:
        raise ResultsError(f"append takes the rows of one run, got run ids {list(run_ids)}")
    table = conform(df.assign(schema_version=SCHEMA_VERSION))
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    tmp = results_dir / f".{run_ids[0]}.{os.getpid()}.tmp"
    table.to_parquet(tmp, index=False)
    try:
        while True:
            files = run_files(results_dir)
            seq = int(_NAME.match(files[-1].name).group(1)) + 1 if files else 1
            target = results_dir / f"{seq:04d}-{run_ids[0]}.parquet"
            try:
                os.link(tmp, target)  # atomic, and never replaces an existing file
                return target
            except FileExistsError:
                continue
    finally:
        tmp.unlink(missing_ok=True)


def read_file(path: Path) -> pd.DataFrame:
    """Read and check one result file; :class:`ResultsError` names a corrupt one."""
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise ResultsError(f"results file {path} is corrupt or unreadable: {exc}") from None
    version = df["schema_version"].max() if "schema_version" in df else None
    if version is None or pd.isna(version) or int(version) > SCHEMA_VERSION:
        raise ResultsError(
            f"results file {path} has schema version {version}; this mpcbench reads "
            f"up to {SCHEMA_VERSION}"
        )
    try:
        return conform(migrate(df, int(version)))
    except SchemaError as exc:
        raise ResultsError(f"results file {path}: {exc}") from None


def load(path: Path | str) -> pd.DataFrame:
    """All rows of a results directory (or of one result file) as one DataFrame."""
    path = Path(path)
    if path.is_file():
        return read_file(path)
    if not path.exists():
        raise ResultsError(f"results directory {path} does not exist")
    frames = [read_file(p) for p in run_files(path)]
    if not frames:
        return conform(pd.DataFrame(columns=COLUMNS))
    return pd.concat(frames, ignore_index=True)
