"""The report: summary numbers equal direct computations on the rows, every figure and table
is written, missing baselines are "not measured" and weakened security is marked (the
page's layout in a browser: test_report_browser.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape
from typer.testing import CliRunner

from mpcbench import parties
from mpcbench.cli import app
from mpcbench.errors import InputError
from mpcbench.report import build
from mpcbench.report.figures import FIGURES, SHARING_FIGURE
from mpcbench.report.html import Table
from mpcbench.results import micro, runs, store, summary
from tests.unit import report_data

REAL = Path(__file__).parents[1] / "data" / "results-real"
TABLES = ["summary", "coverage", "baselines", "phases", "failures", "security", "machines",
          "versions", "runs"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    return report_data.write(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def built(synthetic, tmp_path_factory) -> Path:
    return build(synthetic, tmp_path_factory.mktemp("report"), expected=parties.kinds())


def _direct(df: pd.DataFrame) -> pd.DataFrame:
    """The summary's per-repeat numbers computed straight from the rows, one cell = case_id."""
    ok = df[(df["status"] == "ok") & ~df["is_warmup"] & (df["model"] != "micro")]
    party = ok[(ok["rank"] >= 0) & (ok["phase"] == "total")]
    wide = party.pivot_table(index=["case_id", "run_id", "repeat", "rank"], columns="metric",
                             values="value")
    per_repeat = wide.groupby(["case_id", "run_id", "repeat"]).agg(
        wall=("wall_s", "max"), sent=("bytes_sent", "sum"), rss=("peak_rss_bytes", "max"),
        rounds=("rounds", "max"))
    images = ok.groupby("case_id")["images"].first().astype(float)
    per_repeat = per_repeat.join(images, on="case_id")
    per_repeat["s_per_img"] = per_repeat["wall"] / per_repeat["images"]
    per_repeat["img_per_s"] = per_repeat["images"] / per_repeat["wall"]
    per_repeat["mib_per_img"] = per_repeat["sent"] / per_repeat["images"] / 2**20
    g = per_repeat.groupby("case_id")
    out = pd.DataFrame({
        "s_per_img": g["s_per_img"].median(),
        "q25": g["s_per_img"].quantile(0.25),
        "q75": g["s_per_img"].quantile(0.75),
        "img_per_s": g["img_per_s"].median(),
        "mib_per_img": g["mib_per_img"].median(),
        "peak_rss_mib": g["rss"].max() / 2**20,
        "total_s": g["wall"].median(),
        "repeats": g.size(),
    })
    acc = ok[ok["metric"] == "accuracy"].groupby("case_id")["value"].mean()
    out["accuracy"] = acc
    out["eff"] = out["total_s"] / acc
    return out


def _summary_by_case(df: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Map summary cells to case ids (the synthetic table has one variant per case id)."""
    cases = df.groupby(summary.CELL, dropna=False)["case_id"].first().reset_index()
    return table.merge(cases, on=summary.CELL).set_index("case_id")


def test_summary_equals_direct_computation(synthetic):
    df = store.load(synthetic)
    # one case id has two variants (mpyc at t=0 and t=1): compare the unambiguous ones
    variants = df.groupby("case_id")["threshold"].nunique()
    single = variants[variants <= 1].index
    got = _summary_by_case(df, summary.summary(df)).loc[lambda t: t.index.isin(single)]
    want = _direct(df[df["case_id"].isin(single)])
    got = got.loc[want.index]
    assert len(want) >= 6
    for col, ref in [("s_per_img", "s_per_img"), ("s_per_img_q25", "q25"),
                     ("s_per_img_q75", "q75"), ("img_per_s", "img_per_s"),
                     ("mib_per_img", "mib_per_img"), ("peak_rss_mib", "peak_rss_mib"),
                     ("accuracy", "accuracy"), ("eff", "eff")]:
        np.testing.assert_allclose(got[col].astype(float), want[ref].astype(float), rtol=1e-12,
                                   err_msg=col)
    assert (got["repeats"] == want["repeats"]).all()
    assert (got.loc[got["framework"] == "crypten", "repeats"] == 3).all()  # warm-up excluded


def test_slowdown_is_relative_to_plaintext_of_same_model(synthetic):
    df = store.load(synthetic)
    table = summary.summary(df).set_index(["framework", "model", "parties", "batch"])
    plain = table.loc[("plaintext", "cnn", 1, 16), "s_per_img"]
    crypten = table.loc[("crypten", "cnn", 3, 16)]
    assert crypten["slowdown"] == pytest.approx(crypten["s_per_img"] / plain)
    assert table.loc[("plaintext", "mlp", 1, 16), "slowdown"] == pytest.approx(1.0)
    # batch 32 has no plaintext run: falls back to plaintext mlp at any batch size
    other = table.loc[("crypten", "mlp", 2, 32)]
    assert other["slowdown"] == pytest.approx(
        other["s_per_img"] / table.loc[("plaintext", "mlp", 1, 16), "s_per_img"])


def test_mpc_is_what_the_backend_declares_not_its_protocol_text():
    rows = pd.DataFrame({
        "framework": ["crypten", "complex", "mpyc", "plaintext", "other", "other2"],
        "protocol": ["arithmetic secret sharing", "Shamir-like rotation", "Shamir", None, "None",
                     "none"],
        "kind": ["mpc", "baseline", "mpc", "plaintext", None, "mpc"],
    })
    assert summary.is_mpc(rows).tolist() == [True, False, True, False, False, True]


def test_threshold_zero_and_tfp_are_separate_and_marked(synthetic):
    table = summary.summary(store.load(synthetic))
    mpyc = table[table["framework"] == "mpyc"].set_index("threshold")
    assert set(mpyc.index) == {0, 1}
    assert mpyc.loc[0, "system"] == "mpyc [t=0]"
    assert "t=0" in mpyc.loc[0, "security_note"] and mpyc.loc[1, "security_note"] == ""
    assert table.loc[table["framework"] == "crypten", "security_note"].str.contains("TFP").all()
    assert (table.loc[table["framework"] == "plaintext", "security_note"] == "").all()


def test_every_figure_and_table_is_written(built):
    out = built.parent
    for spec in [*FIGURES, SHARING_FIGURE]:
        for ext in ("png", "svg"):
            assert (out / f"{spec.name}.{ext}").stat().st_size > 5000, spec.name
    for name in [*TABLES, "micro"]:
        assert (out / f"{name}.csv").exists(), name
    page = built.read_text()
    embedded = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', page)
    assert sorted(embedded) == sorted(spec.title for spec in [*FIGURES, SHARING_FIGURE])
    assert "No data for this figure" not in page
    for name in [*TABLES, "micro"]:
        assert f'id="table-{name}"' in page, name
        assert f'<a href="{name}.csv">' in page, name
    assert "src=\"http" not in page and "<script" not in page  # self-contained, offline


def test_missing_baseline_is_listed_as_not_measured(built):
    coverage = pd.read_csv(built.parent / "coverage.csv").set_index("framework")
    assert coverage.loc["complex", "status"] == "not measured"
    assert coverage.loc["feedback", "status"] == "measured"
    assert coverage.loc["mpyc", "status"] == "measured"
    page = built.read_text()
    assert re.search(r'<tr class="missing"><td[^>]*>complex</td>', page)
    assert "Not measured (no rows in these results): complex, split, spu, vae." in page


def test_failed_run_and_security_marks_in_page(built):
    page = built.read_text()
    assert "run timed out after 600 s; parties 3, 5 still running" in page
    assert "1 run(s) failed, timed out or were skipped" in page
    assert "Weakened security settings" in page
    security = pd.read_csv(built.parent / "security.csv")
    marked = security[security["security_note"].notna()]
    assert set(marked["framework"]) == {"crypten", "mpyc"}
    assert page.count('<tr class="warn">') >= len(marked)
    # every row says in full what its setting protects (never folded behind a click)
    table = page.split('id="table-security"')[1].split("</table>", 1)[0]
    assert max(map(len, security["protects"])) > Table.FOLD
    for sentence in security["protects"]:
        assert f' prose">{escape(sentence)}</td>' in table


def _summary_html(page: str) -> tuple[str, str]:
    """The summary table's HTML and its caption."""
    table, after = page.split('id="table-summary"')[1].split("</table>", 1)
    return table, after.split("</figcaption>")[0]


def test_summary_highlights_only_security_weaker_than_its_peers(built):
    table, caption = _summary_html(built.read_text())
    # MPyC at t=0 beside t=1 (and CrypTen) at 3 parties; CrypTen's TFP has no TTP beside it
    assert re.findall(r'<tr class="warn"><td[^>]*>([^<]+)</td>', table) == ["mpyc [t=0]"]
    assert "Highlighted rows: security weaker than another MPC row" in caption
    assert "Eff [s]: the median total time of a repeat divided by accuracy" in caption
    assert "⚠ TFP dealer" in table and "⚠ t=0 (no privacy)" in table


def test_micro_benchmark_table(synthetic):
    table = micro.micro(store.load(synthetic)).set_index(["framework", "dtype"])
    assert set(table.index) == {("plaintext", "float32"), ("crypten", "float32"),
                                ("crypten", "float64")}
    crypten = table.loc[("crypten", "float32")]
    assert crypten["share_s"] == pytest.approx(2.0 * (1 + 0.05 + 0.01))  # median repeat, rank 1
    assert crypten["load_s"] == pytest.approx(0.2)
    assert crypten["peak_rss_mib"] == pytest.approx((2.0 * 2e8 + 1e7) / 2**20)
    assert crypten["share_vs_torch_load"] == pytest.approx(crypten["share_s"] / 0.2)
    assert np.isnan(table.loc[("crypten", "float64"), "share_vs_torch_load"])  # no torch f64
    assert (table["repeats"] == 3).all()


def test_cli_report_without_micro_or_baselines(tmp_path):
    run = report_data.synthetic()[2]  # one crypten run
    store.append(run, tmp_path / "r")
    res = CliRunner().invoke(app, ["report", "--results", str(tmp_path / "r"),
                                   "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    index = Path(res.stdout.strip())
    assert index == (tmp_path / "out" / "index.html").resolve() and index.exists()
    page = index.read_text()
    assert "Not measured: no rows with model <code>micro</code>" in page
    others = ", ".join(sorted(set(parties.kinds()) - {"crypten"}))
    assert f"Not measured (no rows in these results): {others}." in page
    coverage = pd.read_csv(tmp_path / "out" / "coverage.csv").set_index("framework")
    assert (coverage.drop(index="crypten")["status"] == "not measured").all()


def test_report_of_micro_benchmark_only(tmp_path):
    for run in report_data.synthetic()[-3:]:
        store.append(run, tmp_path / "r")
    page = build(tmp_path / "r", tmp_path / "out").read_text()
    assert page.count("No data for this figure") == len(FIGURES)
    assert f'alt="{SHARING_FIGURE.title}"' in page and 'id="table-micro"' in page
    assert pd.read_csv(tmp_path / "out" / "summary.csv").empty


def test_report_of_a_failed_run_only(tmp_path):
    store.append(report_data.synthetic()[9], tmp_path / "r")  # the timed-out crypten run
    page = build(tmp_path / "r", tmp_path / "out").read_text()
    assert page.count("No data for this figure") == len(FIGURES)
    coverage = pd.read_csv(tmp_path / "out" / "coverage.csv").set_index("framework")
    assert coverage.loc["crypten", "status"] == "failed only"
    assert "parties 3, 5 still running" in page


def test_empty_results_are_an_input_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no results"):
        build(tmp_path / "empty", tmp_path / "out")


@pytest.mark.skipif(not REAL.is_dir(), reason="no committed real results under tests/data")
def test_real_results(tmp_path):
    """Rows of real runs (`mpcbench run`: plaintext and crypten mlp at 2 and 3 parties, a
    crypten run stopped by its timeout, the feedback baseline) give the same numbers as a
    direct computation."""
    df = store.load(REAL)
    index = build(REAL, tmp_path, expected=parties.kinds())
    table = summary.summary(df)
    got = _summary_by_case(df, table)
    want = _direct(df).loc[got.index]
    for col in ["s_per_img", "img_per_s", "mib_per_img", "peak_rss_mib", "accuracy", "eff"]:
        np.testing.assert_allclose(got[col].astype(float), want[col].astype(float), rtol=1e-12,
                                   err_msg=col)
    crypten = table[table["framework"] == "crypten"]
    assert sorted(crypten["parties"]) == [2, 3]
    assert (crypten["mib_per_img"] > 0).all() and (crypten["rounds_per_img"] > 0).all()
    assert (crypten["agreement"] >= 0.99).all() and (crypten["slowdown"] > 1).all()
    assert (crypten["security_note"].str.contains("TFP")).all()
    security = pd.read_csv(tmp_path / "security.csv")
    assert security["details"].str.contains("dealer: party 0").all()  # backend's extras
    failures = pd.read_csv(tmp_path / "failures.csv")
    assert failures["status"].tolist() == ["timeout"]
    coverage = pd.read_csv(tmp_path / "coverage.csv").set_index("framework")
    assert coverage.loc["complex", "status"] == "not measured"
    assert coverage.loc["feedback", ["kind", "status"]].tolist() == ["baseline", "measured"]
    feedback = table[table["framework"] == "feedback"].iloc[0]
    assert feedback["kind"] == "baseline" and feedback["security_note"] == ""
    assert "timed out" in index.read_text()


def test_uncounted_rounds_cached_figures_and_oversubscription_are_shown(tmp_path):
    stored = report_data.synthetic()
    for i, run in enumerate(stored):
        fw, parties = run["framework"].iloc[0], run["parties"].iloc[0]
        if fw == "mpyc":  # MPyC counts no rounds: missing, not 0; another sweep ran beside
            stored[i] = run.assign(value=run["value"].where(run["metric"] != "rounds"),
                                 contended=True)
        if fw == "crypten" and parties == 3:
            stored[i] = run.assign(oversubscribed=True)
        if fw == "feedback":
            cached = run["metric"].isin(["accuracy_fgsm", "accuracy_pgd"])
            stored[i] = run.assign(source=np.where(cached, "cached", "measured"))
    for run in stored:
        store.append(run, tmp_path / "r")
    df = store.load(tmp_path / "r")
    table = summary.summary(df)
    mpyc = table[table["framework"] == "mpyc"]
    assert mpyc["rounds_per_img"].isna().all()
    over = table[table["oversubscribed"]]
    assert set(zip(over["framework"], over["parties"], strict=True)) == {("crypten", 3)}
    assert set(over["oversubscription"]) == {"3 parties on 2 cores: time-sliced"}
    shared = table[table["contended"]]
    assert set(shared["framework"]) == {"mpyc"}
    assert shared["oversubscription"].str.endswith("other work shared the machine").all()
    runs_table = runs.runs(df)
    assert set(runs_table.loc[runs_table["framework"] == "feedback", "cached"]) == {
        "accuracy_fgsm, accuracy_pgd"}
    index = build(tmp_path / "r", tmp_path / "report")
    page = index.read_text()
    assert "3 parties on 2 cores: time-sliced" in page and "Shared cores" in page
    summary_table, _ = _summary_html(page)
    headers = re.findall(r"<th>([^<]+)</th>", summary_table)
    assert headers[headers.index("cores") - 1].startswith("time / image")  # beside the time
    assert "⚠ time-sliced" in summary_table and "⚠ shared" in summary_table
    assert "other work shared the machine" in page
    baselines = pd.read_csv(tmp_path / "report" / "baselines.csv")
    assert {"accuracy_fgsm (cached)", "accuracy_pgd (cached)", "accuracy_noisy"} <= set(
        baselines.columns)
    assert "0 rounds" not in page


def test_text_wraps_only_in_a_table_too_wide_for_the_page():
    def table(columns: dict[str, list[str]]) -> Table:
        frame = pd.DataFrame(columns)
        return Table("t", "t", frame, frame)

    cells = {"protocol": ["Shamir secret sharing (MPyC)"],
             "time": ["0.102 (0.0969\N{EN DASH}0.104)"], "torch": ["2.13.0"]}
    assert table(cells).numeric == [False, True, False]
    assert table(cells).wrap == [False, False, False]  # fits: one line per row
    wide = {f"protocol {i}": cells["protocol"] for i in range(1, 6)} | cells
    assert table(wide).wrap == [True] * 6 + [False, False]  # numbers and short text stay
    assert table({"details": ["word " * 30]}).wrap == [True]  # folded, its text opened wraps
