"""The runs table (runs.parquet): one record per run, kept with the files under the append
lock, reconciled with them by every reader, checked and rebuilt by ``mpcbench check``;
and what ``store.load`` selects."""

import os
import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mpcbench import injection
from mpcbench.cli import app
from mpcbench.results import catalog, files, store
from mpcbench.results.schema import RECORD_COLUMNS, ROW_COLUMNS, SCHEMA_VERSION
from tests.conftest import REPO
from tests.unit.test_store import _rows

REAL = REPO / "tests" / "data" / "results-real"


def _stored(tmp_path, *names):
    for i, name in enumerate(names):
        store.append(_rows(name, float(i)).assign(
            framework="crypten" if i % 2 else "mpyc",
            timestamp=f"2026-11-2{i}T12:00:00Z"), tmp_path)
    return tmp_path


def test_a_file_holds_its_record_once_and_the_table_one_row_per_run(tmp_path):
    _stored(tmp_path, "a", "b")
    path = files.run_files(tmp_path)[1]
    assert pq.read_schema(path).names == ROW_COLUMNS  # nothing constant on every row
    table = pd.read_parquet(tmp_path / catalog.TABLE)
    assert list(table.columns) == catalog.COLUMNS
    assert list(table["run_id"]) == ["a", "b"] and list(table["framework"]) == ["mpyc",
                                                                                 "crypten"]
    assert list(table["file"]) == [p.name for p in files.run_files(tmp_path)]
    assert (table["schema_version"] == SCHEMA_VERSION).all()
    assert files.read_record(path) == files.to_record(
        store.load(tmp_path, run_ids=["b"]).iloc[0][RECORD_COLUMNS])


def test_rows_of_one_run_must_agree_on_its_record(tmp_path):
    rows = _rows("a")
    rows.loc[1, "batch"] = 32
    with pytest.raises(store.ResultsError, match="batch differ between its rows"):
        store.append(rows, tmp_path)
    assert files.run_files(tmp_path) == []


def test_load_selects_runs_columns_and_phases(tmp_path):
    _stored(tmp_path, "a", "b", "c")
    store.append(_rows("d").assign(phase="setup", rank=-1), tmp_path)
    assert set(store.load(tmp_path, framework="mpyc")["run_id"]) == {"a", "c"}
    assert set(store.load(tmp_path, model="mlp")["run_id"]) == {"a", "b", "c", "d"}
    assert set(store.load(tmp_path, since="2026-11-21T06:00")["run_id"]) == {"b", "c", "d"}
    assert set(store.load(tmp_path, run_ids=["c", "a"])["run_id"]) == {"a", "c"}
    narrow = store.load(tmp_path, columns=["value", "run_id", "framework"], phases=["infer"])
    assert list(narrow.columns) == ["run_id", "framework", "value"]  # in the schema's order
    assert list(narrow["run_id"]) == ["d", "d"]  # only run-level rows of other phases
    assert store.load(tmp_path, framework="plaintext").empty


def test_old_and_new_files_load_as_one_table_in_append_order(tmp_path):
    for path in files.run_files(REAL):  # files of schema version 5 and 6
        os.link(path, tmp_path / path.name)
    store.append(_rows("new"), tmp_path)
    expected = pd.concat([files.read_file(p) for p in files.run_files(tmp_path)],
                         ignore_index=True).astype({c: object for c in store.SHARED})
    pd.testing.assert_frame_equal(store.load(tmp_path), expected)
    table = pd.read_parquet(tmp_path / catalog.TABLE)  # the append indexed the old files
    assert len(table) == 6 and table["schema_version"].tolist()[-1] == SCHEMA_VERSION


_KILLED = """
import sys
from tests.unit.test_store import _rows
from mpcbench import results
results.append(_rows(sys.argv[2]), sys.argv[1])
"""


def test_an_append_killed_before_the_table_is_updated_loses_nothing(tmp_path):
    _stored(tmp_path, "a")
    env = os.environ | {injection.ENV: injection.spec("index", injection.LAUNCHER, "crash")}
    proc = subprocess.run([sys.executable, "-c", _KILLED, str(tmp_path), "b"], cwd=REPO,
                          env=env)
    assert proc.returncode == -9
    assert list(pd.read_parquet(tmp_path / catalog.TABLE)["run_id"]) == ["a"]
    # readers see the linked file all the same
    assert list(catalog.records(tmp_path)["run_id"]) == ["a", "b"]
    assert set(store.load(tmp_path)["run_id"]) == {"a", "b"}
    res = CliRunner().invoke(app, ["check", "-r", str(tmp_path)])
    assert res.exit_code == 1
    assert "a file the runs table does not name" in res.output
    res = CliRunner().invoke(app, ["check", "-r", str(tmp_path), "--repair"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["check", "-r", str(tmp_path)])
    assert res.exit_code == 0 and "runs table and files agree (2 runs)" in res.output


def test_the_next_append_indexes_what_the_table_missed(tmp_path):
    _stored(tmp_path, "a", "b")
    (tmp_path / catalog.TABLE).unlink()
    assert list(catalog.records(tmp_path)["run_id"]) == ["a", "b"]  # rebuilt in memory
    assert not (tmp_path / catalog.TABLE).exists()  # reading never writes
    store.append(_rows("c"), tmp_path)
    assert list(pd.read_parquet(tmp_path / catalog.TABLE)["run_id"]) == ["a", "b", "c"]
    assert catalog.check(tmp_path) == []


def test_a_file_changed_or_removed_after_indexing_is_what_readers_see(tmp_path):
    _stored(tmp_path, "a", "b", "c")
    first, second, _ = files.run_files(tmp_path)
    replaced = files.read_file(second).assign(batch=99)
    tmp = files.temporary(tmp_path, "b")
    files.write(*files.split(replaced.drop(columns="schema_version")), tmp)
    os.replace(tmp, second)
    first.unlink()
    table = catalog.records(tmp_path)
    assert list(table["run_id"]) == ["b", "c"] and list(table["batch"]) == [99, 64]
    found = catalog.check(tmp_path)
    assert f"{first.name}: named by the runs table, not a readable file" in found
    assert f"{second.name}: batch differs" in found
    assert catalog.check(tmp_path, repair=True) and catalog.check(tmp_path) == []


def test_a_damaged_file_is_named_by_check_and_left_out(tmp_path):
    _stored(tmp_path, "a", "b")
    bad = files.run_files(tmp_path)[0]
    bad.write_bytes(b"not parquet")
    res = CliRunner().invoke(app, ["check", "-r", str(tmp_path), "--repair"])
    assert res.exit_code == 1 and bad.name in res.output
    assert list(pd.read_parquet(tmp_path / catalog.TABLE)["run_id"]) == ["b"]
    errors = []
    assert set(store.load(tmp_path, errors=errors)["run_id"]) == {"b"}
    assert len(errors) == 1 and bad.name in str(errors[0])


def test_a_file_damaged_in_place_is_found_by_the_scan_and_named(tmp_path):
    """Damage the runs table cannot see (same size, same time): the one query over the
    files fails, and they are read in halves down to the damaged one."""
    _stored(tmp_path, "a", "b", "c", "d")
    bad = files.run_files(tmp_path)[2]
    before = bad.stat()
    bad.write_bytes(b"x" * before.st_size)
    os.utime(bad, ns=(before.st_atime_ns, before.st_mtime_ns))
    errors = []
    assert set(store.load(tmp_path, errors=errors)["run_id"]) == {"a", "b", "d"}
    assert len(errors) == 1 and bad.name in str(errors[0])
    with pytest.raises(store.ResultsError, match=bad.name):
        store.load(tmp_path)


def test_upgrade_rewrites_old_files_as_the_rows_they_read_as(tmp_path):
    for path in files.run_files(REAL):  # files of schema version 5 and 6
        (tmp_path / path.name).write_bytes(path.read_bytes())
    before = store.load(tmp_path)
    res = CliRunner().invoke(app, ["check", "-r", str(tmp_path), "--upgrade"])
    assert res.exit_code == 0, res.output
    assert "5 files rewritten" in res.output
    assert all(files.RECORD_KEY in pq.read_schema(p).metadata
               for p in files.run_files(tmp_path))
    after = store.load(tmp_path)
    pd.testing.assert_frame_equal(before.drop(columns="schema_version"),
                                  after.drop(columns="schema_version"))
    assert (after["schema_version"] == SCHEMA_VERSION).all()
    assert catalog.check(tmp_path) == []
    res = CliRunner().invoke(app, ["check", "-r", str(tmp_path), "--upgrade"])
    assert "0 files rewritten" in res.output and "agree (5 runs)" in res.output


def test_a_run_id_appended_twice_is_two_runs_each_with_its_own_record(tmp_path):
    store.append(_rows("a", 1.0), tmp_path)
    store.append(_rows("a", 5.0).assign(batch=32), tmp_path)
    df = store.load(tmp_path)
    assert df[["batch", "value"]].drop_duplicates().values.tolist() == [[64, 1.0], [32, 5.0]]
