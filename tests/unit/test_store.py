import os
import stat
import subprocess
import sys
import time

import pandas as pd
import pytest

from mpcbench import results
from mpcbench.results import catalog, store
from mpcbench.results.schema import conform
from tests.conftest import REPO


def _rows(run_id: str, value: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame([
        {"run_id": run_id, "timestamp": "2026-11-25T12:00:00Z", "framework": "crypten",
         "model": "mlp", "dataset": "mnist", "parties": 2, "rank": r, "batch": 64,
         "images": 64, "repeat": 0, "phase": "total", "metric": "wall_s", "value": value,
         "unit": "s", "status": "ok", "threshold": 1}
        for r in (0, 1)
    ])


def test_append_and_load_round_trip(tmp_path):
    p1 = results.append(_rows("a"), tmp_path)
    p2 = results.append(_rows("b", 2.0), tmp_path)
    assert p1.name.startswith("0001-") and p2.name.startswith("0002-")
    df = results.load(tmp_path)
    assert list(df.columns) == results.COLUMNS
    assert sorted(df["run_id"].unique()) == ["a", "b"]
    assert df.loc[df.run_id == "b", "value"].tolist() == [2.0, 2.0]
    assert (df["schema_version"] == results.SCHEMA_VERSION).all()
    assert results.load(p1)["run_id"].unique().tolist() == ["a"]


def test_append_never_overwrites(tmp_path):
    first = results.append(_rows("a"), tmp_path)
    before = first.read_bytes()
    results.append(_rows("a", 5.0), tmp_path)  # same run id again: a new file
    assert first.read_bytes() == before
    assert len(results.run_files(tmp_path)) == 2


def test_corrupt_file_is_named_and_others_survive(tmp_path):
    good = results.append(_rows("a"), tmp_path)
    bad = results.append(_rows("b"), tmp_path)
    bad.write_bytes(b"not parquet")
    with pytest.raises(results.ResultsError, match=bad.name):
        results.load(tmp_path)
    assert results.load(good)["run_id"].unique().tolist() == ["a"]
    results.append(_rows("c"), tmp_path)  # appending still works, nothing rewritten
    assert good.exists() and len(results.run_files(tmp_path)) == 3


def test_unknown_columns_rejected():
    with pytest.raises(results.SchemaError, match="bogus"):
        conform(_rows("a").assign(bogus=1))


def test_one_run_per_file(tmp_path):
    with pytest.raises(results.ResultsError, match="one run"):
        store.append(pd.concat([_rows("a"), _rows("b")]), tmp_path)


def test_missing_dir_is_an_error(tmp_path):
    with pytest.raises(results.ResultsError, match="does not exist"):
        results.load(tmp_path / "nope")


def test_sequence_numbers_sort_numerically_past_9999(tmp_path):
    for seq in range(1, 10002):  # empty stand-ins: only the names matter for the order
        (tmp_path / f"{seq:04d}-r{seq}.parquet").touch()
    files = results.run_files(tmp_path)
    assert [f.name for f in files[9997:]] == [
        "9998-r9998.parquet", "9999-r9999.parquet", "10000-r10000.parquet",
        "10001-r10001.parquet"]
    assert results.append(_rows("next"), tmp_path).name == "10002-next.parquet"


_APPENDER = """
import sys, time
from pathlib import Path
from tests.unit.test_store import _rows
from mpcbench import results
target, name = Path(sys.argv[1]), sys.argv[2]
(target.parent / f"ready-{name}").touch()
while not (target.parent / "go").exists():
    time.sleep(0.01)
for i in range(200):
    results.append(_rows(f"{name}{i}"), target)
"""


def test_concurrent_appenders_lose_nothing_and_share_no_number(tmp_path):
    target = tmp_path / "results"
    procs = [subprocess.Popen([sys.executable, "-c", _APPENDER, str(target), name], cwd=REPO)
             for name in ("a", "b")]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{n}").exists() for n in ("a", "b")):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.05)
    (tmp_path / "go").touch()
    assert [p.wait(120) for p in procs] == [0, 0]
    files = results.run_files(target)
    assert sorted(int(f.name.split("-")[0]) for f in files) == list(range(1, 401))
    expected = {f"{n}{i}" for n in "ab" for i in range(200)}
    assert set(results.load(target)["run_id"]) == expected
    assert catalog.check(target) == []  # the runs table names every run, as its files do


def test_file_and_directory_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def record(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real(fd)

    monkeypatch.setattr(os, "fsync", record)
    results.append(_rows("a"), tmp_path)
    # the data file before it is linked, the directory, then the new runs table before it
    # replaces the old
    assert synced == [False, True, False]


def test_tolerant_load_skips_and_names_a_corrupt_file(tmp_path):
    results.append(_rows("a"), tmp_path)
    bad = results.append(_rows("b"), tmp_path)
    results.append(_rows("c"), tmp_path)
    bad.write_bytes(b"not parquet")
    errors: list[results.ResultsError] = []
    df = results.load(tmp_path, errors=errors)
    assert sorted(df["run_id"].unique()) == ["a", "c"]
    assert len(errors) == 1 and bad.name in str(errors[0])
