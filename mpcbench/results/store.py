"""Append-only results store: one file per run (:mod:`.files`), one record per run in the
runs table (:mod:`.catalog`), queried with DuckDB rather than loaded whole.

:func:`append` writes a run's file durably (temporary file, fsync, a hard link that fails
rather than overwrite, fsync of the directory) and adds its record to the runs table,
both under the directory's lock, so concurrent sweeps into one directory lose nothing and
never share a number or a name. :func:`load` selects runs from the runs table (by
framework, model, time or id) and reads only their rows, only the columns and phases
asked for, from the files: DuckDB, an embedded analytical engine, scans the parquet files
in one process without a server, reading only the columns a query names, and hands the
rows over as Arrow. A damaged file is named, and can be skipped so the others still load.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .. import injection
from . import catalog, files
from .files import ResultsError, locked, read_file, remove_stale, run_files
from .schema import COLUMNS, RECORD_COLUMNS, ROW_COLUMNS, SCHEMA_VERSION, conform

#: text columns of a run's record that say what it ran on and with (JSON, hashes,
#: versions, messages), which statistics never group rows by: the table :func:`load`
#: returns holds them as Python strings (``object``), one string per run that its rows
#: point to, not a copy per row
SHARED = ["identity", "backend_config", "framework_versions", "mpcbench_version",
          "python_version", "torch_version", "numpy_version", "git_commit", "hostname", "os",
          "cpu_model", "weights_sha256", "case_fingerprint", "error", "note"]

__all__ = ["ResultsError", "append", "load", "locked", "read_file", "remove_stale",
           "run_files", "stored_run_ids"]


def append(df: pd.DataFrame, results_dir: Path) -> Path:
    """Store the rows of one run as a new file in ``results_dir`` and its record in the
    runs table; return the file's path."""
    rows, record = files.split(df)
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    tmp = files.temporary(results_dir, str(record["run_id"]))
    try:
        files.write(rows, record, tmp)
        injection.at("store", injection.LAUNCHER)
        with locked(results_dir):
            target = files.link(tmp, results_dir, str(record["run_id"]))
            injection.at("index", injection.LAUNCHER)
            catalog.add(results_dir, target)
        return target
    finally:
        tmp.unlink(missing_ok=True)


def stored_run_ids(results_dir: Path) -> set[str]:
    """The run ids of a directory's result files (read from their names)."""
    return {files.run_id_of(p) for p in run_files(results_dir)}


def load(path: Path | str, errors: list[ResultsError] | None = None, *,
         framework: str | None = None, model: str | None = None,
         since: datetime | str | None = None, run_ids: Iterable[str] | None = None,
         columns: list[str] | None = None, phases: Iterable[str] | None = None,
         metrics: Iterable[str] | None = None) -> pd.DataFrame:
    """Rows of a results directory (or of one result file) as one long DataFrame.

    Without arguments every row and column of every run. ``framework``, ``model``,
    ``since`` (runs made then or later) and ``run_ids`` select runs; ``columns`` (of
    :data:`~.schema.COLUMNS`, in their order) the columns; ``phases`` and ``metrics``
    only the rows of those phases and metrics and the run-level rows (rank < 0). The
    :data:`SHARED` columns are Python strings (``object``), one per run, that its rows
    share; the others have the schema's types. A file that cannot be read raises
    :class:`ResultsError` naming it; given an ``errors`` list, such a file is skipped
    instead and its error appended there.
    """
    path = Path(path)
    if not path.exists():
        raise ResultsError(f"results directory {path} does not exist")
    columns = [c for c in COLUMNS if columns is None or c in columns]
    kept = Kept(phases, metrics)
    if path.is_file():
        table = _select(read_file(path), framework, model, since, run_ids)
        return _shared(kept.of(table)[columns].reset_index(drop=True))
    record_columns = [c for c in RECORD_COLUMNS if c in columns or c in
                      ("run_id", "framework", "model", "timestamp", "schema_version")]
    runs = _select(catalog.records(path, errors, record_columns), framework, model, since,
                   run_ids)
    rows = _rows(path, runs, [c for c in ROW_COLUMNS if c in columns and c != "run_id"],
                 kept, errors)
    record = _shared(conform(runs[record_columns], record_columns))
    # each row takes the record of its file (a run id appended twice is two files)
    joined = pd.concat([rows.drop(columns="file"),
                        record.iloc[rows["file"].to_numpy()].reset_index(drop=True)], axis=1)
    return joined[columns]


def _shared(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its :data:`SHARED` columns as Python strings."""
    return table.astype({c: object for c in SHARED if c in table})


def _select(table: pd.DataFrame, framework: str | None, model: str | None,
            since: datetime | str | None, run_ids: Iterable[str] | None) -> pd.DataFrame:
    """The rows (of a runs table or a long table) of the runs selected."""
    keep = pd.Series(True, index=table.index)
    if framework is not None:
        keep &= table["framework"].eq(framework).fillna(False)
    if model is not None:
        keep &= table["model"].eq(model).fillna(False)
    if since is not None:
        start = pd.Timestamp(since)
        start = start.tz_localize("UTC") if start.tz is None else start
        keep &= (pd.to_datetime(table["timestamp"], utc=True) >= start).fillna(False)
    if run_ids is not None:
        keep &= table["run_id"].isin(list(run_ids))
    return table[keep.astype(bool)]


@dataclass(frozen=True)
class Kept:
    """Which rows a query keeps: those of ``phases`` and ``metrics`` (each: all when
    ``None``) and every run-level row (rank < 0)."""

    phases: Iterable[str] | None = None
    metrics: Iterable[str] | None = None

    @property
    def columns(self) -> list[str]:
        """The row columns the selection reads."""
        if not self:
            return []
        return ["rank"] + [column for column, values in (("phase", self.phases),
                                                         ("metric", self.metrics))
                           if values is not None]

    def __bool__(self) -> bool:
        return self.phases is not None or self.metrics is not None

    def of(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``rows`` kept."""
        if not self:
            return rows
        keep = rows["rank"] < 0
        chosen = pd.Series(True, index=rows.index)
        if self.phases is not None:
            chosen &= rows["phase"].isin(list(self.phases))
        if self.metrics is not None:
            chosen &= rows["metric"].isin(list(self.metrics))
        return rows[(keep | chosen).fillna(False).astype(bool)]

    def sql(self) -> tuple[str, dict[str, list[str]]]:
        """The selection as a DuckDB ``WHERE`` clause and its parameters."""
        if not self:
            return "", {}
        tests, params = [], {}
        for column, values in (("phase", self.phases), ("metric", self.metrics)):
            if values is not None:
                tests.append(f"list_contains(${column}s, {column})")
                params[f"{column}s"] = sorted(set(values))
        return f" WHERE ({' AND '.join(tests)}) OR rank < 0", params


def _rows(results_dir: Path, runs: pd.DataFrame, columns: list[str], kept: Kept,
          errors: list[ResultsError] | None) -> pd.DataFrame:
    """``columns`` of the rows of ``runs`` and the ``file`` each is from (its position
    in ``runs``), in that order: files of the current schema version scanned together,
    older ones read one by one and migrated."""
    columns = list(dict.fromkeys([*columns, *kept.columns]))
    current = runs["schema_version"].eq(SCHEMA_VERSION).fillna(False).astype(bool)
    paths = [str(results_dir / name) for name in runs.loc[current, "file"]]
    scanned = _scan(paths, columns, kept, errors)
    parts = [scanned.assign(file=np.flatnonzero(current)[scanned["file"].to_numpy("int64")])]
    for at, name in zip(np.flatnonzero(~current), runs.loc[~current, "file"], strict=True):
        try:
            parts.append(kept.of(read_file(results_dir / name))[columns].assign(file=at))
        except ResultsError as exc:
            if errors is None:
                raise
            errors.append(exc)
    rows = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    rows = rows.iloc[rows["file"].to_numpy().argsort(kind="stable")]
    return rows.reset_index(drop=True)


def _scan(paths: list[str], columns: list[str], kept: Kept,
          errors: list[ResultsError] | None) -> pd.DataFrame:
    """``columns`` of the rows of result files ``paths`` (all of the current version)
    and the ``file`` each is from (its position in ``paths``),
    read with one DuckDB query; if it fails, halves of them in turn down to single files,
    which pyarrow reads or names as damaged."""
    if not paths:
        return _none(columns)
    names = ", ".join(f'"{c}"' for c in columns)
    where, params = kept.sql()
    query = f"SELECT {names}, file_index AS file FROM read_parquet($paths){where}"
    params |= {"paths": paths}
    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")  # stdout carries the data
        try:
            table = con.sql(query, params=params).to_arrow_table()
        except (duckdb.IOException, duckdb.InvalidInputException):
            table = None
    if table is None:
        if len(paths) == 1:  # read by pyarrow instead, or named as damaged
            try:
                return kept.of(files.read_file(Path(paths[0])))[columns].assign(file=0)
            except ResultsError as exc:
                if errors is None:
                    raise
                errors.append(exc)
                return _none(columns)
        half = len(paths) // 2
        second = _scan(paths[half:], columns, kept, errors)
        return pd.concat([_scan(paths[:half], columns, kept, errors),
                          second.assign(file=second["file"] + half)], ignore_index=True)
    rows = table.to_pandas()
    return conform(rows.drop(columns="file"), columns).assign(file=rows["file"])


def _none(columns: list[str]) -> pd.DataFrame:
    """No rows, in ``columns`` and ``file``."""
    return conform(pd.DataFrame(columns=columns), columns).assign(
        file=pd.Series(dtype="int64"))
