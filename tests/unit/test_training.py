"""Secure training without parties: the batch plan, epoch times, the case in specs and
identities, the suite form, the command line's refusals and the report section from real rows."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from mpcbench.case import Case, Training
from mpcbench.cli import main
from mpcbench.launch import record
from mpcbench.launch.suite import SuiteError, expand, load_suite
from mpcbench.launch.workloads import training
from mpcbench.models.train import sgd_plan
from mpcbench.parties.base import Unsupported
from mpcbench.parties.context import PartyContext, read_spec, spec_json
from mpcbench.report import html
from mpcbench.report import training as report_training
from mpcbench.results import store, summary

DATA = Path(__file__).parents[1] / "data"
#: real inference runs, and real training runs (see their README.md)
REAL, TRAINED = DATA / "results-real", DATA / "results-training"


def test_plan_draws_each_epoch_without_replacement():
    plan = sgd_plan(train_images=10, batch=4, steps=7, seed=1)
    assert [len(idx) for idx in plan] == [4, 4, 2, 4, 4, 2, 4]  # 3 steps per epoch
    for epoch in range(2):
        seen = torch.cat(plan[3 * epoch : 3 * epoch + 3])
        assert sorted(seen.tolist()) == list(range(10))
    assert plan[0].tolist() != plan[3].tolist()  # reshuffled every epoch
    assert all(torch.equal(a, b) for a, b in zip(plan, sgd_plan(10, 4, 7, 1), strict=True))


def test_epoch_time_is_measured_only_when_an_epoch_ran():
    assert training._epoch([1.0, 2.0, 3.0], per_epoch=2) == (3.0, "measured")
    # fewer steps than an epoch: the median step (not the slow first one) x steps per epoch
    assert training._epoch([9.0, 1.0, 2.0], per_epoch=100) == (200.0, "extrapolated")


def test_training_case_survives_the_spec_and_enters_the_identity():
    case = Case("crypten", "mlp", parties=3, images=16, batch=32,
                workload=Training(steps=5, lr=0.1, seed=2, train_images=640))
    ctx = PartyContext(rank=-1, parties=3, addresses=("a:1", "b:2", "c:3"), case=case)
    assert read_spec(spec_json(ctx), 1).case == case
    assert case.case_id == "crypten/mlp(dataset=mnist,n=3,b=32,steps=5)"
    code = {"version": "0", "commit": "x"}
    ident = record.identity(case, code)
    assert ident["case"]["training"] == {"steps": 5, "lr": 0.1, "seed": 2, "train_images": 640}
    assert ident["weights"] == {}  # starts from the seed's weights, not a weights file
    other = Case("crypten", "mlp", parties=3, images=16, batch=32,
                 workload=Training(steps=5, lr=0.1, seed=3, train_images=640))
    assert record.fingerprint(case, code) != record.fingerprint(other, code)
    # an inference case's identity is what it was before training existed
    assert "training" not in record.identity(Case("crypten", "mlp"), code)["case"]


def _suite(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return load_suite(path)


def test_suite_task_train(tmp_path):
    cases = [p.case for p in expand(_suite(tmp_path, """
frameworks: [crypten]
models: [mlp, cnn]
parties: [2, 3]
images: 16
task: train
steps: 3
"""))]
    assert [c.case_id for c in cases] == [
        f"crypten/{m}(dataset=mnist,n={n},b=128,steps=3)" for m in ("mlp", "cnn")
        for n in (2, 3)]  # the training batch, not capped at the 16 test images
    assert {c.workload for c in cases} == {Training(3)}
    with pytest.raises(Unsupported, match=r"mpyc cannot train mlp: MPyC has .* no autograd"):
        expand(_suite(tmp_path, "frameworks: [mpyc]\nparties: [3]\ntask: train\n"))
    with pytest.raises(Unsupported, match="plaintext cannot train"):
        expand(_suite(tmp_path, "frameworks: [plaintext]\ntask: train\n"))
    with pytest.raises(SuiteError, match="task"):
        _suite(tmp_path, "task: learn\n")
    with pytest.raises(SuiteError, match="steps"):
        _suite(tmp_path, "task: train\nsteps: 0\n")


@pytest.mark.parametrize(("args", "message"), [
    (["-f", "mpyc", "-n", "3"], "mpyc cannot train mlp: MPyC has secure fixed-point arrays "
                                "but no autograd"),
    (["-m", "bnn"], "crypten cannot train bnn: no encrypted training of Sign layers"),
    (["-m", "resnet"], "unknown model 'resnet'"),
    (["--steps", "0"], "'--steps': Input should be greater than or equal to 1"),
    (["--lr", "0"], "Invalid value for '--lr': must be more than 0"),
    (["--batch", "64", "--train-images", "32"], "batch 64 is larger than the 32 training"),
    (["--test-images", "20000"], "'--test-images': Input should be less than or equal to 10000"),
    (["--variant", "fast"], "variant must be one of stock, tuned"),
    (["-n", "1"], "crypten runs with 2 to 16 parties"),
])
def test_cli_refuses_bad_input_before_anything_runs(tmp_path, monkeypatch, capsys, args,
                                                    message):
    results = tmp_path / "results"
    monkeypatch.setattr(sys, "argv", ["mpcbench", "train-secure", *args,
                                      "--results", str(results)])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in " ".join(err.split()), err
    assert not results.exists()


def test_report_section_from_real_training_rows(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    for path in [*REAL.glob("*.parquet"), *TRAINED.glob("*.parquet")]:
        shutil.copy(path, results / path.name)
    df = store.load(results)
    # inference statistics are those of the inference runs alone
    inference = store.load(REAL)
    pd.testing.assert_frame_equal(summary.summary(df), summary.summary(inference))
    table = report_training.runs(df)
    assert table[["model", "parties", "steps", "epoch_source"]].values.tolist() == [
        ["mlp", 2, 4, "extrapolated"], ["mlp", 3, 4, "extrapolated"]]
    rows = summary.usable(df)
    for _, run in table.iterrows():
        mine = rows[rows["run_id"] == run["run_id"]]
        step = mine[(mine["phase"] == "train_step") & (mine["metric"] == "wall_s")]
        slowest = step.groupby("repeat")["value"].max()
        assert run["s_per_step"] == pytest.approx(slowest.median())
        assert run["s_per_epoch"] == pytest.approx(slowest.median() * 60000 / 32)
        losses = mine[mine["metric"] == "loss"].sort_values("repeat")["value"]
        assert (run["loss_first"], run["loss_last"]) == (losses.iloc[0], losses.iloc[-1])
    index = html.build(results, tmp_path / "report")
    page = index.read_text()
    assert 'id="training"' in page and "Not measured: no secure training" not in page
    assert pd.read_csv(tmp_path / "report" / "training.csv")["run_id"].tolist() == \
        table["run_id"].tolist()
    for name in ("training_epoch", "training_loss"):
        assert (tmp_path / "report" / f"{name}.png").stat().st_size > 0


def test_report_without_training_says_so(tmp_path):
    page = html.build(REAL, tmp_path / "report").read_text()
    assert "Not measured: no secure training runs" in page
    assert not (tmp_path / "report" / "training.csv").exists()


@pytest.mark.crypten
def test_trained_parameters_line_up_with_the_description_or_are_refused():
    """The ``crypten.nn`` rebuild's Linear/Conv2d parameters map onto the description's
    records in the layout :meth:`CryptenBackend.import_shares` expects (unencrypted here:
    the mapping is the same on encrypted tensors); a rebuild of another model is refused."""
    from mpcbench import models
    from mpcbench.parties.crypten import training as ct
    from mpcbench.parties.crypten.compat import import_crypten
    from mpcbench.parties.crypten.layers import plain_params

    crypten = import_crypten()
    table = ct._translations(crypten.nn)

    def rebuilt(name: str) -> ct.Trainable:
        module = crypten.nn.Sequential(*[table[type(m)](m) for m in models.build(name)])
        return ct.Trainable(module, None, None)

    for name in ("mlp", "cnn"):
        graph = models.structure(name)
        params = ct.layer_params(rebuilt(name), graph)
        assert len(params) == len(graph.nodes)
        for lay, p in zip(graph.ops, params, strict=True):
            assert {k: tuple(v.size()) for k, v in p.items()} == {
                k: a.shape for k, a in plain_params(lay).items()}
    with pytest.raises(Unsupported, match="do not line up"):
        ct.layer_params(rebuilt("mlp"), models.structure("cnn"))


def test_training_runs_carry_the_cell_label_of_the_results_table():
    df = store.load(TRAINED)
    first = df["run_id"].eq(df["run_id"].iloc[0])
    df.loc[first, "provider"] = "TTP"  # the same runs, as if the first had a dealer
    table = report_training.runs(df).set_index("run_id")
    assert table["system"].to_dict() == {
        df["run_id"].iloc[0]: "crypten [TTP]",
        df.loc[~first, "run_id"].iloc[0]: "crypten [TFP]"}
