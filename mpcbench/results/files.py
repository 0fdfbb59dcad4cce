"""The result files of a results directory: one parquet file per run, never rewritten.

A results directory holds ``NNNN-<run_id>.parquet`` files, ordered by the number (which
grows past 9999). Since schema version 7 a file holds the run's rows in the columns that
vary within a run (:data:`~.schema.ROW_COLUMNS`) and, once, in the file's metadata, the
run's record: every other column (identity, configuration, provenance, security, status),
as JSON under :data:`RECORD_KEY`. Files of older versions hold every column on every row;
:func:`read_file` migrates them.

:func:`link` makes a written file part of the directory durably (a hard link that fails
rather than overwrite, fsync of the directory) and takes the next number under
:func:`locked`, so concurrent sweeps into one directory never share a number or a name.
A file being written is named ``.<run_id>.<writer's pid>@<host>.<random>.tmp`` so that
:func:`remove_stale` can tell the file of a writer killed outright.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import MpcbenchError
from ..owner import pid_alive
from .schema import RECORD_COLUMNS, ROW_COLUMNS, SCHEMA_VERSION, SchemaError, conform, migrate

_NAME = re.compile(r"^(\d{4,})-(.+)\.parquet$")
#: a file being written: ``.<run_id>.<writer's pid>@<its host>.<random>.tmp``
_TEMPORARY = re.compile(r"^\.[^.]+\.(\d+)@(.+)\.[^.]+\.tmp$")
#: lock file taken while a new file's number is chosen and linked
_LOCK = ".append.lock"
#: the key of a file's metadata that holds its run's record (JSON)
RECORD_KEY = b"mpcbench.run"


class ResultsError(MpcbenchError):
    """A results directory or file cannot be read or written."""


def seq(path: Path) -> int:
    """The number of result file ``path``."""
    return int(_NAME.match(path.name).group(1))


def run_id_of(path: Path) -> str:
    """The run id of result file ``path`` (from its name)."""
    return _NAME.match(path.name).group(2)


def is_run_file(name: str) -> bool:
    """Is ``name`` the name of a result file?"""
    return _NAME.match(name) is not None


def run_files(results_dir: Path) -> list[Path]:
    """Result files of a directory in the order they were appended."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        return []
    return sorted((p for p in results_dir.iterdir() if _NAME.match(p.name)),
                  key=lambda p: (seq(p), p.name))


def fsync(path: Path) -> None:
    """Flush ``path`` (a file or a directory) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def locked(results_dir: Path) -> Iterator[None]:
    """Exclusive lock on ``results_dir`` (between processes and threads alike), held while
    a new file is numbered and the runs table updated, and while a sweep claims a cell
    (:mod:`.claims`)."""
    with open(Path(results_dir) / _LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def temporary(results_dir: Path, run_id: str) -> Path:
    """A new, empty temporary file in ``results_dir`` named for this writer."""
    writer = f"{os.getpid()}@{socket.gethostname()}"
    fd, name = tempfile.mkstemp(prefix=f".{run_id}.{writer}.", suffix=".tmp", dir=results_dir)
    os.close(fd)
    return Path(name)


def split(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, object]]:
    """The rows of one run (any schema columns) as its :data:`ROW_COLUMNS` rows and its
    record; :class:`ResultsError` unless they hold one run whose record columns are the
    same on every row."""
    run_ids = df["run_id"].unique()
    if len(run_ids) != 1:
        raise ResultsError(f"a result file takes the rows of one run, got run ids "
                           f"{list(run_ids)}")
    table = conform(df.assign(schema_version=SCHEMA_VERSION))
    varying = [c for c in RECORD_COLUMNS if table[c].nunique(dropna=False) > 1]
    if varying:
        raise ResultsError(f"run {run_ids[0]}: {', '.join(varying)} differ between its rows; "
                           "they hold one value per run")
    return table[ROW_COLUMNS], to_record(table[RECORD_COLUMNS].iloc[0])


def to_record(row: pd.Series) -> dict[str, object]:
    """One record (a row of :data:`RECORD_COLUMNS`) as JSON-ready values."""
    def plain(value: object) -> object:
        if value is None or pd.isna(value):
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
        return value.item() if hasattr(value, "item") else value

    return {c: plain(row[c]) for c in RECORD_COLUMNS}


def write(rows: pd.DataFrame, record: dict[str, object], path: Path) -> None:
    """Write one run's rows and record to ``path`` and flush it to disk."""
    table = pa.Table.from_pandas(rows, preserve_index=False)
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), RECORD_KEY: json.dumps(record).encode()})
    with open(path, "wb") as fh:
        pq.write_table(table, fh)
        fh.flush()
        os.fsync(fh.fileno())


def link(tmp: Path, results_dir: Path, run_id: str) -> Path:
    """Link written file ``tmp`` into ``results_dir`` as its next result file (the caller
    holds :func:`locked`); its path."""
    files = run_files(results_dir)
    target = results_dir / f"{(seq(files[-1]) + 1 if files else 1):04d}-{run_id}.parquet"
    os.link(tmp, target)  # atomic, and never replaces an existing file
    fsync(results_dir)
    return target


def _version(path: Path, found: object) -> int:
    if found is None or pd.isna(found) or int(found) > SCHEMA_VERSION:
        raise ResultsError(f"results file {path} has schema version {found}; this mpcbench "
                           f"reads up to {SCHEMA_VERSION}")
    return int(found)


def _unreadable(path: Path, exc: Exception) -> ResultsError:
    return ResultsError(f"results file {path} is corrupt or unreadable: {exc}")


def read_record(path: Path) -> dict[str, object]:
    """The record of result file ``path`` (from its footer alone for a file of the current
    version); :class:`ResultsError` names a file that cannot be read."""
    try:
        metadata = pq.read_schema(path).metadata or {}
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise _unreadable(path, exc) from None
    if RECORD_KEY not in metadata:  # every column on every row: migrate and take one
        rows = read_file(path)
        if rows.empty:
            raise ResultsError(f"results file {path} holds no rows")
        return to_record(rows.iloc[0])
    record = json.loads(metadata[RECORD_KEY])
    _version(path, record.get("schema_version"))
    return record


def read_file(path: Path) -> pd.DataFrame:
    """Read and check one result file, every column on every row; :class:`ResultsError`
    names a corrupt one."""
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise _unreadable(path, exc) from None
    metadata = table.schema.metadata or {}
    df = table.to_pandas()
    if RECORD_KEY in metadata:
        record = json.loads(metadata[RECORD_KEY])
        _version(path, record.get("schema_version"))
        df = df.assign(**{c: record[c] for c in RECORD_COLUMNS if c != "run_id"})
        version = SCHEMA_VERSION
    else:
        version = _version(path, df["schema_version"].max() if "schema_version" in df
                           else None)
    try:
        return conform(migrate(df, version))
    except SchemaError as exc:
        raise ResultsError(f"results file {path}: {exc}") from None


def upgrade(path: Path) -> bool:
    """Rewrite result file ``path`` in the current schema version if it is older (the
    same rows, migrated as :func:`read_file` reads them; the new file renamed over the
    old); whether it was. The caller holds :func:`locked`."""
    if RECORD_KEY in (pq.read_schema(path).metadata or {}):
        return False
    rows, record = split(read_file(path).drop(columns="schema_version"))
    tmp = temporary(path.parent, run_id_of(path))
    try:
        write(rows, record, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync(path.parent)
    return True


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
