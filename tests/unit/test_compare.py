"""``mpcbench compare``: ratios and asv-style marks between two runs or results directories."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from mpcbench.cli import app
from mpcbench.errors import InputError
from mpcbench.report.compare import compare, load_side, regressions
from mpcbench.results import store, summary
from mpcbench.results.schema import conform
from tests.unit import report_data


def _runs(seed: int = 0, slow: float = 1.0) -> pd.DataFrame:
    return pd.concat(report_data.synthetic(seed, slow), ignore_index=True)


def _row(changes: pd.DataFrame, cell_start: str, metric: str) -> pd.Series:
    sel = changes[changes["cell"].str.startswith(cell_start) & (changes["metric"] == metric)]
    assert len(sel) == 1, (cell_start, metric, sel)
    return sel.iloc[0]


def test_identical_results_have_no_changes():
    changes = compare(_runs(), _runs())
    assert len(changes) > 30
    assert (changes["mark"] == "").all()
    assert (changes["ratio"].dropna() == 1).all()
    assert regressions(changes) == 0


def test_slower_crypten_is_a_regression_with_its_ratio():
    a, b = _runs(), _runs(slow=2.0)
    changes = compare(a, b)
    row = _row(changes, "crypten/cnn mnist n=2", "s_per_img")
    ta = summary.summary(a).set_index(["framework", "model", "parties", "batch"])
    tb = summary.summary(b).set_index(["framework", "model", "parties", "batch"])
    key = ("crypten", "cnn", 2, 16)
    assert row["value_a"] == pytest.approx(ta.loc[key, "s_per_img"])
    assert row["ratio"] == pytest.approx(tb.loc[key, "s_per_img"] / ta.loc[key, "s_per_img"])
    assert row["mark"] == "+"
    assert _row(changes, "crypten/cnn mnist n=2", "img_per_s")["mark"] == "+"
    assert _row(changes, "plaintext/cnn", "s_per_img")["mark"] == ""
    # the reverse direction is an improvement
    back = compare(b, a)
    assert _row(back, "crypten/cnn mnist n=2", "s_per_img")["mark"] == "-"
    assert regressions(back) == 0
    assert regressions(changes) == 14  # time and throughput of seven crypten cells


def test_overlapping_repeats_are_insignificant():
    a = _runs()
    cell = (a["framework"] == "crypten") & (a["model"] == "cnn") & (a["parties"] == 2) & \
        (a["metric"] == "wall_s") & (a["phase"] == "total")
    b = a.copy()
    for rep, (ta, tb) in {1: (1.0, 1.0), 2: (1.2, 1.4), 3: (2.0, 2.0)}.items():
        a.loc[cell & (a["repeat"] == rep), "value"] = ta
        b.loc[cell & (b["repeat"] == rep), "value"] = tb
    row = _row(compare(a, b), "crypten/cnn mnist n=2", "s_per_img")
    assert row["ratio"] == pytest.approx(1.4 / 1.2)  # beyond the factor 1.1 ...
    assert row["mark"] == "~"  # ... but the IQRs [1.1, 1.6] and [1.2, 1.7] (x 1/32) overlap
    for rep, tb in {1: 1.8, 2: 1.6, 3: 2.4}.items():  # B's IQR [1.7, 2.1] vs A's [1.1, 1.6]
        b.loc[cell & (b["repeat"] == rep), "value"] = tb
    assert _row(compare(a, b), "crypten/cnn mnist n=2", "s_per_img")["mark"] == "+"


def test_accuracy_uses_an_absolute_tolerance():
    a = _runs()
    b = a.copy()
    acc = (b["metric"] == "accuracy") & (b["framework"] == "crypten")
    b.loc[acc, "value"] -= 0.005
    assert _row(compare(a, b), "crypten/mlp mnist n=3", "accuracy")["mark"] == ""
    b.loc[acc, "value"] -= 0.05
    assert _row(compare(a, b), "crypten/mlp mnist n=3", "accuracy")["mark"] == "+"


def test_new_failure_is_marked_and_counts():
    a = _runs()
    run = report_data.synthetic()[4]  # crypten cnn n=2
    failed = run.iloc[:1].assign(status="failed", error="party 1 of 2 (crypten) exited with "
                                 "code 1: RuntimeError", value=float("nan"), rank=-1)
    b = pd.concat([a[a["run_id"] != run["run_id"].iloc[0]], conform(failed)], ignore_index=True)
    changes = compare(a, b)
    fail = _row(changes, "crypten/cnn mnist n=2", "status")
    assert fail["mark"] == "!" and "exited with code 1" in fail["note"]
    assert _row(changes, "crypten/cnn mnist n=2", "s_per_img")["note"] == "only in A"
    assert regressions(changes) == 1
    # the failure already present in both (crypten n=7 timeout) is not new
    assert not changes["cell"].str.contains("n=7").any()


def test_different_fingerprint_is_not_comparable():
    a = _runs()
    b = _runs(slow=2.0)
    b.loc[b["framework"] == "crypten", "case_fingerprint"] = "changed"
    changes = compare(a, b)
    crypten = changes[changes["cell"].str.startswith("crypten/")]
    assert (crypten["mark"] == "x").all()
    assert regressions(changes) == 0


def test_two_run_ids_and_bad_input(tmp_path):
    results = report_data.write(tmp_path / "r")
    a, b = load_side("run003", results), load_side("run009", results)
    assert a["run_id"].unique().tolist() == ["run003"]
    changes = compare(a, b)  # two single runs are paired although their batch differs
    assert changes["cell"].str.contains("b=16 .* → .*b=32", regex=True).all()
    assert (changes["mark"] == "x").all()  # different cases: not comparable
    with pytest.raises(InputError, match="16 runs"):
        load_side("run0", results)
    with pytest.raises(InputError, match="no run"):
        load_side("nope", results)
    with pytest.raises(InputError, match="unknown metric"):
        compare(a, b, metrics=["speed"])
    with pytest.raises(InputError, match="factor"):
        compare(a, b, factor=0.9)


def test_cli_exit_codes_and_options(tmp_path):
    a = report_data.write(tmp_path / "a")
    b = report_data.write(tmp_path / "b", slow=2.0)
    runner = CliRunner()
    same = runner.invoke(app, ["compare", str(a), str(a)])
    assert same.exit_code == 0, same.output
    unchanged = runner.invoke(app, ["compare", str(a), str(a), "--only-changed"])
    assert unchanged.exit_code == 0, unchanged.output
    assert unchanged.stdout == f"nothing changed from {a} to {a} (factor 1.1)\n"
    worse = runner.invoke(app, ["compare", str(a), str(b), "--only-changed",
                                "--metric", "s_per_img"])
    assert worse.exit_code == 1
    assert "7 regression(s)" in worse.stderr
    lines = [ln for ln in worse.stdout.splitlines() if "crypten/" in ln]
    assert len(lines) == 7 and all("+" in ln and "time / image" in ln for ln in lines)
    assert "plaintext/" not in worse.stdout
    bad = runner.invoke(app, ["compare", str(a), "nope", "--results", str(a)])
    assert bad.exit_code == 2 and "no run" in bad.stderr


def test_compare_reads_stored_directories(tmp_path):
    a = report_data.write(tmp_path / "a")
    df = store.load(a)
    assert compare(load_side(str(a), tmp_path), df)["mark"].eq("").all()
