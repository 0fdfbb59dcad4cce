"""Shares of a securely trained model with real party processes: ``train-secure
--save-shares`` makes each party write its ring shares of the trained CrypTen model, and
``run --model-shares`` in new party processes reveals the training run's test logits.

The training is the one of :mod:`tests.integration.test_training` (mlp, 2 parties, STEPS
SGD steps on the first BATCH training images, TEST_IMAGES test images).

Tolerances, and why:

* ``LOGIT_TOL = 2e-3``: the loading run holds
  the very shares the training run ended with and evaluates the same products, but with
  fresh input shares, Beaver triples and share-dependent truncations; measured here
  1-2 units of 2**-16 (1.5e-5 to 3.1e-5, two runs) on the 16 images.
* ``WEIGHT_TOL = 1e-3``: the weights opened from the files (by the test, not a party)
  against plaintext torch SGD of the same steps: every product of CrypTen's forward and
  backward pass is truncated to 16 fractional bits and the loss gradient goes through
  CrypTen's softmax approximation; measured here 5.8e-5 to 2.1e-4 (two runs), while the
  steps moved the weights by up to 0.059 (the test wants at least 10 x ``WEIGHT_TOL``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mpcbench import models
from mpcbench.cli import app
from mpcbench.models.importer import from_torch
from mpcbench.parties import shares
from mpcbench.parties.crypten.layers import plain_params
from tests.conftest import ONCE, capture_logits, invoke, party_processes
from tests.integration.test_shares import _opened
from tests.integration.test_training import BATCH, LR, SEED, STEPS, TEST_IMAGES, plain_sgd

pytestmark = [pytest.mark.integration, pytest.mark.crypten]

LOGIT_TOL = 2e-3
WEIGHT_TOL = 1e-3
SCALE = 2.0**16


@pytest.fixture(scope="module")
def trained_set(tmp_path_factory) -> tuple[Path, str, np.ndarray, Path]:
    """A ``train-secure --save-shares`` run: the share set, the run id, the test logits
    the model owner opened, and the results directory."""
    base = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as mp:
        seen = capture_logits(mp)
        res = CliRunner().invoke(app, [
            "train-secure", "-f", "crypten", "-m", "mlp", "-n", "2", "--steps", str(STEPS),
            "--batch", str(BATCH), "--lr", str(LR), "--seed", str(SEED),
            "--train-images", str(BATCH), "--test-images", str(TEST_IMAGES),
            "--results", str(base / "results"), "--save-shares", str(base / "shares")])
    assert res.exit_code == 0, res.output
    assert not party_processes(str(base))
    run_id = re.search(r"run (\S+)", res.output).group(1)
    return base / "shares", run_id, seen[0], base / "results"


@pytest.mark.timeout(300)
def test_trained_shares_reload_in_new_parties_to_the_training_runs_logits(
        tmp_path, trained_set):
    directory, run_id, trained_logits, _ = trained_set
    manifest = json.loads((directory / shares.MANIFEST).read_text())
    assert manifest["set_id"] == manifest["run_id"] == run_id
    assert manifest["source"] == {"secure_training": {
        "run_id": run_id, "steps": STEPS, "lr": LR, "seed": SEED, "batch": BATCH,
        "train_images": BATCH, "dataset": "mnist"}}
    assert manifest["encoding"]["precision_bits"] == 16
    with pytest.MonkeyPatch.context() as mp:
        seen = capture_logits(mp)
        res = CliRunner().invoke(app, [
            "run", *ONCE, "-f", "crypten", "-m", "mlp", "-n", "2", "--images", str(TEST_IMAGES),
            "--batch", str(BATCH), "--model-shares", str(directory),
            "--results", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert not party_processes(str(tmp_path))
    logits = seen[0]
    assert logits.shape == trained_logits.shape == (TEST_IMAGES, 10)
    err = float(np.abs(logits - trained_logits).max())
    print(f"trained-shares logits max abs diff {err:.3g} ({err * SCALE:.1f} units of 2^-16)")
    assert err <= LOGIT_TOL
    assert (logits.argmax(1) == trained_logits.argmax(1)).all()


@pytest.mark.timeout(300)
def test_files_hold_the_trained_weights_not_the_initial_ones(trained_set):
    """Opened by the test: the ring sum of both files, as fixed point, is plaintext SGD's
    model after the same steps, and not the untrained model the run started from."""
    directory = trained_set[0]
    trained, initial = (from_torch(plain_sgd("mlp", steps)[0], models.input_shape("mlp"))
                        for steps in (STEPS, 0))
    worst = moved = 0.0
    names = 0
    for i, (lay, start) in enumerate(zip(trained.ops, initial.ops, strict=True)):
        for name, want in plain_params(lay).items():
            got = _opened("crypten", directory, f"{i}.{name}") / SCALE
            worst = max(worst, float(np.abs(got - want).max()))
            moved = max(moved, float(np.abs(got - plain_params(start)[name]).max()))
            names += 1
    print(f"opened vs plaintext SGD max abs diff {worst:.3g}, moved by up to {moved:.3g}")
    assert names == 10  # 5 Linear layers of the mlp, weight and bias
    assert worst <= WEIGHT_TOL
    assert moved >= 10 * WEIGHT_TOL


@pytest.mark.timeout(120)
def test_trained_shares_are_refused_for_another_party_count(trained_set, tmp_path):
    directory = trained_set[0]
    done = invoke("run", "-f", "crypten", "-m", "mlp", "-n", "3", "--images", "4",
                  "--model-shares", str(directory), "--results", str(tmp_path))
    assert done.returncode == 2
    assert "holds shares of 2 parties, the run needs shares of 3 parties" in done.stderr
    assert not list(tmp_path.rglob("*.parquet"))  # nothing ran, nothing stored
