"""The head-to-head table: the report opens with it, every ratio is the summary's own
numbers divided by its group's reference row, a baseline framework changes the
reference, and what was not measured stays missing; ``mpcbench versus`` prints it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mpcbench.cli import app
from mpcbench.report import build
from mpcbench.results import store, summary, versus
from mpcbench.results.schema import conform
from tests.unit import report_data

#: the summary's measures of a row -> the ratio columns of versus.csv
RATIOS = versus.RATIOS
#: what tells a row of versus.csv apart in summary.csv
ROW = ["model", "dataset", "parties", "network", "batch", "system"]


def _uncounted(seq: int) -> pd.DataFrame:
    """An MPyC cnn run at 2 parties, faster than CrypTen's, that counts no rounds."""
    run = report_data._run(seq, "mpyc", "cnn", 2, speed=0.5)
    return conform(run[run["metric"] != "rounds"])


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    path = report_data.write(tmp_path_factory.mktemp("results"))
    store.append(_uncounted(30), path)
    return path


@pytest.fixture(scope="module")
def built(results, tmp_path_factory) -> Path:
    return build(results, tmp_path_factory.mktemp("report"))


def test_every_ratio_is_the_summarys_numbers_over_the_reference_row(built):
    table = pd.read_csv(built.parent / "versus.csv")
    cells = pd.read_csv(built.parent / "summary.csv")
    assert list(table.columns) == versus.COLUMNS
    both = table.merge(cells, on=ROW, suffixes=("", "_summary"), validate="one_to_one")
    assert len(both) == len(table) > 0
    for measure in RATIOS:
        np.testing.assert_allclose(both[measure], both[f"{measure}_summary"])
    for _, group in both.groupby(versus.GROUP):
        mpc = group[group["kind"] == "MPC"]
        ref = group[group["is_reference"]]
        assert len(mpc) and len(ref) == 1, group
        ref = ref.iloc[0]
        assert ref["s_per_img"] == mpc["s_per_img"].min()  # the fastest MPC row
        assert group["reference"].eq(f"{ref['system']} (fastest MPC)").all()
        for measure, ratio in RATIOS.items():
            expected = group[f"{measure}_summary"] / ref[f"{measure}_summary"]
            np.testing.assert_allclose(group[ratio], expected)  # NaN where either is
        assert ref["time_ratio"] == 1.0 and (mpc["time_ratio"] >= 1.0).all()


def test_the_report_opens_with_it(built):
    page = built.read_text()
    headings = re.findall(r'<h2 id="([a-z_]+)">(\d+)\.', page)
    assert headings[0] == ("versus", "1") and headings[1] == ("summary", "2")
    assert [int(n) for _, n in headings] == list(range(1, len(headings) + 1))
    section = page[page.index('<h2 id="versus">'):page.index('<h2 id="summary">')]
    assert "Ratios (\N{MULTIPLICATION SIGN}) are to the fastest MPC row" in section
    assert "(1.00\N{MULTIPLICATION SIGN})" in section and "versus.csv" in section
    groups = pd.read_csv(built.parent / "versus.csv").groupby(versus.GROUP).ngroups
    assert len(re.findall(r'<tr class="group', section)) == groups  # each group set apart
    assert len(re.findall(r'<tr class="[a-z ]*\bref"', section)) == groups  # its reference bold
    # every setting once, said in full under the table: the rows carry its tag
    said = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", section))
    assert set(said) == {"TFP dealer", "t=0 (no privacy)", "honest majority"}
    assert said["t=0 (no privacy)"].startswith("no privacy: every party holds the values")
    assert said["TFP dealer"].startswith("party 0 generates all correlated randomness")


def test_missing_stays_missing_never_zero(built):
    table = pd.read_csv(built.parent / "versus.csv")
    cnn = table[(table["model"] == "cnn") & (table["parties"] == 2)].set_index("framework")
    # MPyC counts no rounds here: no rounds, and no ratio to them (it is the reference)
    assert np.isnan(cnn.loc["mpyc", "rounds_per_img"]) and cnn.loc["mpyc", "is_reference"]
    assert cnn["rounds_ratio"].isna().all() and cnn.loc["crypten", "rounds_per_img"] > 0
    page = built.read_text()
    section = page[page.index('<h2 id="versus">'):page.index('<h2 id="summary">')]
    assert "<td class=\"num\">\N{EM DASH}</td>" in section


def test_a_baseline_framework_is_the_reference_where_the_group_has_it(results):
    df = store.load(results)
    cells = summary.summary(df)
    fastest, crypten, mpyc = (
        versus.table(cells, df, baseline).set_index([*versus.GROUP, "system"]).sort_index()
        for baseline in (None, "crypten", "mpyc"))
    # cnn at 2 parties: MPyC is fastest; as baseline, CrypTen's row is 1
    cnn = ("cnn", "mnist", 2, "none")
    assert fastest.loc[(*cnn, "mpyc [t=0]"), "time_ratio"] == 1.0
    assert crypten.loc[(*cnn, "crypten"), "time_ratio"] == 1.0
    assert crypten.loc[(*cnn, "mpyc [t=0]"), "time_ratio"] < 1.0
    assert crypten.loc[(*cnn, "crypten"), "reference"] == "crypten (baseline)"
    # mlp at 3 parties: CrypTen is fastest; with MPyC as baseline its fastest stock row
    mlp = ("mlp", "mnist", 3, "none")
    stock = mpyc.xs(mlp).loc[["mpyc", "mpyc [t=0]"]]
    assert sorted(stock["time_ratio"])[0] == 1.0 and (mpyc.xs(mlp)["time_ratio"] < 1).any()
    # a group without the baseline keeps its fastest MPC row and says so
    alone = mpyc.xs(("mlp", "mnist", 2, "wan"))
    assert alone["reference"].eq("crypten @wan (fastest MPC; no stock mpyc here)").all()
    assert alone["time_ratio"].iloc[0] == 1.0


def test_cli_versus_prints_the_table(results):
    res = CliRunner().invoke(app, ["versus", "-r", str(results), "--baseline", "crypten",
                                   "--model", "cnn"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert "Head to head" in lines[0] and "data mnist" in lines[0]
    rows = [line.split() for line in lines if line.split()[:1] == ["cnn"]]
    assert {(r[1], r[3]) for r in rows} == {("2", "crypten"), ("2", "mpyc"), ("3", "crypten")}
    crypten = next(r for r in rows if r[:2] == ["cnn", "2"] and r[3] == "crypten")
    assert "1.00\N{MULTIPLICATION SIGN}" in crypten
    assert "stock crypten row" in res.stdout and "TFP dealer: party 0" in res.stdout
    assert not [line for line in lines if line.split()[:1] == ["mlp"]]


@pytest.mark.parametrize(("args", "message"), [
    (["--baseline", "cryptn"], "unknown framework 'cryptn'; choose one of"),
    (["--model", "resnet"], "no MPC runs of model 'resnet'"),
])
def test_cli_versus_refuses_a_bad_name_in_one_line(results, args, message):
    res = CliRunner().invoke(app, ["versus", "-r", str(results), *args])
    assert res.exit_code == 2 and message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_cli_report_refuses_an_unknown_baseline_before_building(tmp_path, results):
    res = CliRunner().invoke(app, ["report", "-r", str(results), "-o", str(tmp_path / "out"),
                                   "--baseline", "cryptn"])
    assert res.exit_code == 2 and "unknown framework 'cryptn'" in res.stderr
    assert not (tmp_path / "out").exists()
