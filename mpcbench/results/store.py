"""Append-only parquet store: one file per run, never rewritten.

A results directory holds ``NNNN-<run_id>.parquet`` files, ordered by the number (which
grows past 9999). :func:`append` writes a new file durably (temporary file, fsync, a hard
link that fails rather than overwrite, fsync of the directory) and takes the next number
under a lock on the directory, so concurrent sweeps into one directory never share a
number or a name (the temporary file's name holds its writer's pid and host, so that
:func:`remove_stale` can tell the file of a writer killed outright). :func:`load`
concatenates every file, checking each against the schema; a damaged file is named, and
can be skipped so the others still load.
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from .. import injection
from ..errors import MpcbenchError
from ..owner import pid_alive
from .schema import COLUMNS, SCHEMA_VERSION, SchemaError, conform, migrate

_NAME = re.compile(r"^(\d{4,})-(.+)\.parquet$")
#: a file being written: ``.<run_id>.<writer's pid>@<its host>.<random>.tmp``
_TEMPORARY = re.compile(r"^\.[^.]+\.(\d+)@(.+)\.[^.]+\.tmp$")
#: lock file taken while a new file's number is chosen and linked
_LOCK = ".append.lock"


class ResultsError(MpcbenchError):
    """A results directory or file cannot be read or written."""


def _seq(path: Path) -> int:
    return int(_NAME.match(path.name).group(1))


def run_files(results_dir: Path) -> list[Path]:
    """Result files of a directory in the order they were appended."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        return []
    return sorted((p for p in results_dir.iterdir() if _NAME.match(p.name)),
                  key=lambda p: (_seq(p), p.name))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def locked(results_dir: Path) -> Iterator[None]:
    """Exclusive lock on ``results_dir`` (between processes and threads alike), held while
    a new file is numbered and while a sweep claims a cell (:mod:`.claims`)."""
    with open(results_dir / _LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def append(df: pd.DataFrame, results_dir: Path) -> Path:
    """Store the rows of one run as a new file in ``results_dir``; return its path."""
    run_ids = df["run_id"].unique()
    if len(run_ids) != 1:
        raise ResultsError(f"append takes the rows of one run, got run ids {list(run_ids)}")
    table = conform(df.assign(schema_version=SCHEMA_VERSION))
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    writer = f"{os.getpid()}@{socket.gethostname()}"
    fd, name = tempfile.mkstemp(prefix=f".{run_ids[0]}.{writer}.", suffix=".tmp",
                                dir=results_dir)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            table.to_parquet(fh, index=False)
            fh.flush()
            os.fsync(fh.fileno())
        injection.at("store", injection.LAUNCHER)
        with locked(results_dir):
            files = run_files(results_dir)
            seq = _seq(files[-1]) + 1 if files else 1
            target = results_dir / f"{seq:04d}-{run_ids[0]}.parquet"
            os.link(tmp, target)  # atomic, and never replaces an existing file
        _fsync(results_dir)
        return target
    finally:
        tmp.unlink(missing_ok=True)


def stored_run_ids(results_dir: Path) -> set[str]:
    """The run ids of a directory's result files (read from their names)."""
    return {_NAME.match(p.name).group(2) for p in run_files(results_dir)}


def remove_stale(results_dir: Path) -> list[Path]:
    """Remove the temporary files of writers on this host that died before they
    finished; those removed."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        return []
    here = socket.gethostname()
    stale = [p for p in sorted(results_dir.iterdir())
             if (m := _TEMPORARY.match(p.name)) and m.group(2) == here
             and not pid_alive(int(m.group(1)))]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


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


def load(path: Path | str, errors: list[ResultsError] | None = None) -> pd.DataFrame:
    """All rows of a results directory (or of one result file) as one DataFrame.

    A file that cannot be read raises :class:`ResultsError` naming it; given an
    ``errors`` list, such a file is skipped instead and its error appended there.
    """
    path = Path(path)
    if not path.exists():
        raise ResultsError(f"results directory {path} does not exist")
    frames = []
    for file in [path] if path.is_file() else run_files(path):
        try:
            frames.append(read_file(file))
        except ResultsError as exc:
            if errors is None:
                raise
            errors.append(exc)
    if not frames:
        return conform(pd.DataFrame(columns=COLUMNS))
    return pd.concat(frames, ignore_index=True)
