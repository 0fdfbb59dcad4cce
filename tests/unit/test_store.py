import pandas as pd
import pytest

from mpcbench import results
from mpcbench.results import store
from mpcbench.results.schema import conform


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
