"""Secure training under CrypTen with real party processes over loopback sockets.

A few SGD steps of the mlp on one tiny batch (the run's whole training set, so every step
sees the same 8 images and plaintext SGD must lower the loss every step), checked against
plaintext torch SGD computed here from the same seed, data and rate.

Tolerances, and why:

* ``LOSS_TOL = 0.03`` nats: CrypTen opens a loss computed in 16-bit fixed point through
  its approximations of ``exp`` (a limit of ``(1 + x/2^8)^(2^8)``), the reciprocal and
  ``log`` (Householder iterations); on these batches it sits about 0.01 nats above the
  float loss, at every step.
* ``LOGIT_TOL = 0.02``: the trained model's test logits against those of the plaintext-
  trained model. Every weight is truncated to 16 fractional bits after each product of
  the forward and backward pass and the gradient of the loss comes from the same
  softmax approximation; after 4 steps they differ by about 2e-4 here (an order of
  magnitude of headroom over inference's 1e-3 is kept, as in ``test_crypten_backend``).
"""

from __future__ import annotations

import itertools
import signal
import time

import numpy as np
import pandas as pd
import pytest
import torch

from mpcbench import data, results
from mpcbench.case import Case, Training
from mpcbench.launch.runner import run_case
from mpcbench.models import build
from tests.conftest import capture_logits, invoke, party_processes
from tests.integration.test_lifeline import _gone_within, _start

pytestmark = [pytest.mark.integration, pytest.mark.crypten]

LOSS_TOL = 0.03
LOGIT_TOL = 0.02
STEPS, BATCH, LR, SEED, TEST_IMAGES = 4, 8, 0.1, 3, 16


def plain_sgd(model: str, steps: int = STEPS) -> tuple[torch.nn.Module, list[float]]:
    """Plaintext SGD written out here: the model after ``steps`` steps on the first BATCH
    training images from the initial weights of SEED, and the loss of every step."""
    torch.manual_seed(SEED)
    net = build(model)
    x, y = data.load("mnist", "train", limit=BATCH)
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return net, losses


def _plaintext(model: str) -> tuple[list[float], torch.Tensor]:
    """Losses of :func:`plain_sgd` and the trained model's logits on the test images."""
    net, losses = plain_sgd(model)
    with torch.no_grad():
        logits = net.eval()(data.load("mnist", "test", limit=TEST_IMAGES)[0])
    return losses, logits.double()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of one 2-party mlp training run and the test logits the model owner opened."""
    with pytest.MonkeyPatch.context() as mp:
        seen = capture_logits(mp)
        case = Case("crypten", "mlp", parties=2, images=TEST_IMAGES, batch=BATCH,
                    workload=Training(STEPS, LR, SEED, train_images=BATCH))
        rows = run_case(case, tmp_path_factory.mktemp("train"), timeout_s=240).rows
    return rows, seen[0]


def _curve(rows: pd.DataFrame, metric: str) -> list[float]:
    sel = rows[(rows["rank"] == -1) & (rows["metric"] == metric)]
    return sel.sort_values("repeat")["value"].tolist()


@pytest.mark.timeout(240)
def test_secure_sgd_lowers_the_loss_and_matches_plaintext(trained):
    rows, logits = trained
    assert (rows["status"] == "ok").all()
    plain_losses, plain_logits = _plaintext("mlp")
    secure = _curve(rows, "loss")
    assert len(secure) == STEPS
    assert all(b < a for a, b in itertools.pairwise(secure)), secure
    assert np.allclose(secure, plain_losses, atol=LOSS_TOL), (secure, plain_losses)
    # the run's own plaintext reference is the same SGD as the one written out above
    assert np.allclose(_curve(rows, "plain_loss"), plain_losses, atol=1e-5)
    assert logits.shape == (TEST_IMAGES, 10)
    assert float(np.abs(logits - plain_logits.numpy()).max()) < LOGIT_TOL
    run = rows[(rows["rank"] == -1) & (rows["phase"] == "total")].set_index("metric")
    assert run.loc["max_abs_err", "value"] < LOGIT_TOL
    assert run.loc["agreement", "value"] == 1.0


@pytest.mark.timeout(240)
def test_every_step_is_measured_in_every_party(trained):
    rows, _ = trained
    steps = rows[(rows["rank"] >= 0) & (rows["phase"] == "train_step")]
    for metric in ("wall_s", "cpu_s", "peak_rss_bytes", "bytes_sent", "bytes_received",
                   "rounds"):
        per = steps[steps["metric"] == metric].groupby("rank")["repeat"].apply(sorted)
        assert per.tolist() == [list(range(STEPS))] * 2, metric
    traffic = steps[steps["metric"].isin(["bytes_sent", "rounds"])]
    assert (traffic["value"] > 0).all()
    run = rows[(rows["rank"] == -1) & (rows["phase"] == "total")].set_index("metric")
    # one epoch is the BATCH training images: one step, so the epoch was measured
    assert run.loc["s_per_epoch", "source"] == "measured"
    wall = steps[steps["metric"] == "wall_s"].groupby("repeat")["value"].max()
    assert run.loc["s_per_epoch", "value"] == pytest.approx(wall.loc[0])
    assert run.loc["slowdown", "value"] == pytest.approx(
        run.loc["s_per_step", "value"] / run.loc["plain_s_per_step", "value"])


@pytest.mark.timeout(300)
def test_cli_trains_and_the_report_shows_it(tmp_path):
    res = tmp_path / "results"
    done = invoke("train-secure", "--model", "mlp", "--parties", "2", "--steps", "2",
                  "--batch", "16", "--test-images", "16", "--results", str(res))
    assert done.returncode == 0, done.stderr
    assert "s/epoch of 60000 images (extrapolated)" in done.stdout
    assert not party_processes(str(res))
    report = invoke("report", "--results", str(res), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    html = (tmp_path / "report" / "index.html").read_text()
    assert 'id="training"' in html and "Not measured: no secure training" not in html
    table = pd.read_csv(tmp_path / "report" / "training.csv")
    assert table[["model", "parties", "steps", "epoch_source"]].values.tolist() == [
        ["mlp", 2, 2, "extrapolated"]]
    assert table.loc[0, "s_per_epoch"] == pytest.approx(
        table.loc[0, "s_per_step"] * 60000 / 16)
    for name in ("training_epoch", "training_loss"):
        assert (tmp_path / "report" / f"{name}.png").stat().st_size > 0


@pytest.mark.timeout(120)
def test_a_killed_party_stops_training_at_once(tmp_path):
    proc = _start(tmp_path, "--model", "mlp", "--parties", "2", "--steps", "500",
                  "--batch", "32", command="train-secure")
    parties = party_processes(str(tmp_path))
    try:
        victim = next(p for p in parties if "--rank 1" in " ".join(p.cmdline()))
        killed = time.monotonic()
        victim.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert time.monotonic() - killed < 10
    assert proc.returncode == 1, stderr
    assert "party 1 of 2 (crypten) was killed by SIGKILL" in " ".join(stderr.split())
    _gone_within(parties, 5)
    stored = results.load(tmp_path)
    assert stored["status"].tolist() == ["failed"]
    assert stored["case_id"].tolist() == ["crypten/mlp(dataset=mnist,n=2,b=32,steps=500)"]


@pytest.mark.timeout(240)
def test_tuned_variant_trains_along_the_same_path(tmp_path):
    case = Case("crypten", "mlp", parties=2, images=TEST_IMAGES, batch=BATCH,
                options={"variant": "tuned"}, workload=Training(2, LR, SEED, train_images=BATCH))
    rows = run_case(case, tmp_path, timeout_s=240).rows
    assert '"variant": "tuned"' in rows["identity"].iloc[0]
    assert np.allclose(_curve(rows, "loss"), _plaintext("mlp")[0][:2], atol=LOSS_TOL)
