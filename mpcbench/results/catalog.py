"""The runs table: one record per stored run, kept beside the result files.

``runs.parquet`` in a results directory holds the record of each result file
(:func:`.files.read_record`: the columns constant within a run) and which file it is
(:data:`FILE_COLUMNS`: name, size, modification time). It is an index: the files are the
truth, and the table can always be rebuilt from them (:func:`rebuild`).

A writer updates it under the directory's lock after linking a run's file, by writing a
new table beside it and renaming it over the old (readers see one table or the other,
never part of one). A writer killed between the two leaves a file the table does not
name; a file changed or removed since it was indexed no longer matches. Every reader
reconciles the table with the directory in memory (:func:`records`: one ``stat`` per
file, and the footer of each file the table does not match), the next append stores it,
and :func:`check` compares the stored table with one rebuilt from the files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from . import files
from .files import ResultsError
from .schema import RECORD_COLUMNS, conform

#: the runs table's file in a results directory
TABLE = "runs.parquet"
#: which file each record is read from: its name, size in bytes and modification time
FILE_COLUMNS = ["file", "file_bytes", "file_mtime_ns"]
#: columns of the runs table
COLUMNS = RECORD_COLUMNS + FILE_COLUMNS
#: how :func:`check` starts the line of a file that cannot be read
UNREADABLE = "unreadable:"


def _listing(results_dir: Path) -> pd.DataFrame:
    """The result files of ``results_dir`` in append order, with size and mtime."""
    entries = []
    for path in files.run_files(results_dir):
        stat = path.stat()
        entries.append((path.name, stat.st_size, stat.st_mtime_ns))
    return pd.DataFrame(entries, columns=FILE_COLUMNS).astype(
        {"file": "string", "file_bytes": "Int64", "file_mtime_ns": "Int64"})


def _typed(records: list[dict[str, object]], listing: pd.DataFrame) -> pd.DataFrame:
    """Records (as read from files) beside the listing rows of their files, typed."""
    table = conform(pd.DataFrame(records, columns=RECORD_COLUMNS), RECORD_COLUMNS)
    return pd.concat([table.reset_index(drop=True), listing.reset_index(drop=True)], axis=1)


def _read(results_dir: Path, columns: list[str] | None = None) -> pd.DataFrame | None:
    """The stored runs table (``columns`` of it and the file columns); ``None`` if there
    is none or it cannot be read (it is rebuilt)."""
    path = Path(results_dir) / TABLE
    if columns is not None:
        columns = list(dict.fromkeys([*columns, *FILE_COLUMNS]))
    try:
        return pq.read_table(path, columns=columns).to_pandas()
    except (OSError, ValueError, KeyError):  # absent, damaged or of another layout
        return None


def _reconcile(table: pd.DataFrame | None, results_dir: Path,
               errors: list[ResultsError] | None) -> pd.DataFrame:
    """``table`` made to match the directory's files: records of files it does not match
    read from them. A file that cannot be read raises :class:`ResultsError`, or with
    ``errors`` is left out and its error appended."""
    listing = _listing(results_dir)
    if table is None:
        table = pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    indexed = pd.MultiIndex.from_frame(table[FILE_COLUMNS].astype(listing.dtypes.to_dict()))
    on_disk = pd.MultiIndex.from_frame(listing)
    matched = on_disk.isin(indexed)
    current = indexed.isin(on_disk)
    if matched.all() and current.all():
        return table
    records, read = [], []
    for name in listing.loc[~matched, "file"]:
        try:
            records.append(files.read_record(Path(results_dir) / name))
            read.append(name)
        except ResultsError as exc:
            if errors is None:
                raise
            errors.append(exc)
    if current.all() and not read:  # only unreadable files are not indexed
        return table
    new = _typed(records, listing[listing["file"].isin(read)])
    order = {name: i for i, name in enumerate(listing["file"])}
    both = pd.concat([f for f in (table[current], new) if len(f)] or [new],
                     ignore_index=True)
    both = both.iloc[both["file"].map(order).argsort(kind="stable")]
    return both.reset_index(drop=True)


def write(table: pd.DataFrame, results_dir: Path) -> None:
    """Store ``table`` as the runs table of ``results_dir``: a new file renamed over the
    old one once it is on disk (the caller holds :func:`.files.locked`)."""
    tmp = files.temporary(results_dir, "runs")
    try:
        with open(tmp, "wb") as fh:
            table[COLUMNS].to_parquet(fh, index=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, Path(results_dir) / TABLE)
    finally:
        tmp.unlink(missing_ok=True)


def records(results_dir: Path | str, errors: list[ResultsError] | None = None,
            columns: list[str] | None = None) -> pd.DataFrame:
    """One row per readable result file of ``results_dir``, in append order: its record
    (``columns`` of it, default all) and :data:`FILE_COLUMNS`. The stored table is
    reconciled with the files (in memory: reading never writes; the next append stores
    it). A file that cannot be read raises :class:`ResultsError`, or with
    ``errors`` is left out and its error appended."""
    results_dir = Path(results_dir)
    table = _reconcile(_read(results_dir, columns), results_dir, errors)
    wanted = list(dict.fromkeys([*(columns or RECORD_COLUMNS), *FILE_COLUMNS]))
    return table[wanted]


def add(results_dir: Path, path: Path) -> None:
    """Add the record of ``path``, just linked, to the runs table, read back from it (the
    caller holds :func:`.files.locked`). Files the table did not match are reconciled on
    the way; an unreadable one is left out, as every reader leaves it out."""
    table = _reconcile(_read(results_dir), results_dir, [])
    if path.name not in set(table["file"]):  # the new file is not readable back
        raise ResultsError(f"results file {path} was linked but cannot be read back")
    write(table, results_dir)


def rebuild(results_dir: Path | str, errors: list[ResultsError] | None = None) -> pd.DataFrame:
    """The runs table as the files alone give it (the stored one unread)."""
    return _reconcile(None, Path(results_dir), errors)


def check(results_dir: Path | str, repair: bool = False) -> list[str]:
    """Differences between the stored runs table and the files, one line each (none:
    they agree); ``repair`` stores the table rebuilt from the files."""
    results_dir = Path(results_dir)
    errors: list[ResultsError] = []
    with files.locked(results_dir):
        return _check(results_dir, repair, errors)


def upgrade(results_dir: Path | str) -> tuple[list[Path], list[str]]:
    """Rewrite every readable result file of an older schema version in the current one
    (:func:`.files.upgrade`: the rows read are the same, and read faster), then store the
    runs table rebuilt from the files; the files rewritten and :func:`check`'s lines."""
    results_dir = Path(results_dir)
    errors: list[ResultsError] = []
    with files.locked(results_dir):
        upgraded = []
        for path in files.run_files(results_dir):
            try:
                if files.upgrade(path):
                    upgraded.append(path)
            except (ResultsError, OSError, ValueError) as exc:
                errors.append(ResultsError(f"results file {path} not upgraded: {exc}"))
        return upgraded, _check(results_dir, True, errors)


def _check(results_dir: Path, repair: bool, errors: list[ResultsError]) -> list[str]:
    """:func:`check` with the lock held, ``errors`` met so far named first."""
    stored = _read(results_dir)
    rebuilt = rebuild(results_dir, errors)
    found = [f"{UNREADABLE} {exc}" for exc in errors]
    if stored is None:
        found.append(f"{TABLE} is missing or unreadable")
    else:
        found += _differences(stored, rebuilt)
    if repair and found:
        write(rebuilt, results_dir)
    return found


def _differences(stored: pd.DataFrame, rebuilt: pd.DataFrame) -> list[str]:
    """Per file, how the stored table differs from the rebuilt one."""
    found = []
    on_disk, indexed = set(rebuilt["file"]), set(stored["file"])
    found += [f"{name}: a file the runs table does not name" for name in
              sorted(on_disk - indexed)]
    found += [f"{name}: named by the runs table, not a readable file" for name in
              sorted(indexed - on_disk)]
    both = sorted(on_disk & indexed)
    left = conform(stored.set_index("file").loc[both, RECORD_COLUMNS], RECORD_COLUMNS)
    right = rebuilt.set_index("file").loc[both, RECORD_COLUMNS]
    for column in RECORD_COLUMNS:
        same = (left[column] == right[column]).fillna(False) | (
            left[column].isna() & right[column].isna())
        found += [f"{name}: {column} differs" for name in same.index[~same.to_numpy()]]
    for column in FILE_COLUMNS[1:]:
        moved = stored.set_index("file").loc[both, column].to_numpy() != rebuilt.set_index(
            "file").loc[both, column].to_numpy()
        found += [f"{name}: {column} differs" for name, m in zip(both, moved, strict=True)
                  if m]
    return found
