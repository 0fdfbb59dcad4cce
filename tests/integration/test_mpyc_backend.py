"""MPyC parties as real processes over loopback sockets, through the launcher. The stock
3-party mlp run is made once for the tests that assert on it (``shared_run``)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mpcbench import results
from mpcbench.case import Case
from mpcbench.launch.runner import run_case
from tests.integration.conftest import MPYC_MLP_3

pytestmark = [pytest.mark.integration, pytest.mark.mpyc]

#: largest logit error allowed: inputs and activations carry 7 fractional bits, weights 10
LOGIT_TOL = 0.5


def _scored(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """A run's rows, all ``ok``, and its run metrics."""
    assert (df["status"] == "ok").all()
    return df, df[df["rank"] == -1].set_index("metric")["value"]


def _run(tmp_path, model: str, parties: int, images: int, batch: int, timeout_s: float = 240,
         **options):
    case = Case("mpyc", model, parties=parties, images=images, batch=batch, options=options)
    run_case(case, tmp_path, timeout_s=timeout_s)
    return _scored(results.load(tmp_path))


def _assert_traffic_balanced(df) -> None:
    """For every phase, the bytes all parties sent equal the bytes all parties received."""
    party = df[(df["rank"] >= 0) & df["metric"].isin(["bytes_sent", "bytes_received"])]
    traffic = party.groupby(["run_id", "phase", "repeat", "metric"])["value"].sum()
    for key, row in traffic.unstack("metric").iterrows():
        assert row["bytes_sent"] == row["bytes_received"], key


@pytest.mark.timeout(120)
def test_mlp_three_parties_agrees_with_plaintext(shared_run):
    df, run = _scored(shared_run(MPYC_MLP_3).rows)
    assert run["agreement"] >= 0.99
    assert run["max_abs_err"] <= LOGIT_TOL
    assert (df["threshold"] == 1).all()
    party = df[(df["rank"] >= 0) & (df["phase"] == "infer") & (df["metric"] == "bytes_sent")]
    assert len(party) == 3 and (party["value"] > 0).all()
    # every counted byte is received within the same phase; barrier tokens are not counted
    for phase in ("share", "infer", "reveal"):
        rows = df[(df["rank"] >= 0) & (df["phase"] == phase)]
        traffic = rows.groupby("metric")["value"].sum()
        assert traffic["bytes_sent"] == traffic["bytes_received"] > 0, phase
    config = json.loads(df["backend_config"].iloc[0])
    assert config["bit_length"] == 14 and config["frac_bits"] == 7
    assert config["variant"] == "stock" and not config["speedups"]
    assert config["products"].startswith("MPyC") and config["truncation"].startswith("MPyC")
    assert 0 < config["range"]["margin_bits"] < 2 and config["range"]["limit"] == 64


@pytest.mark.timeout(240)
def test_stock_and_tuned_reveal_the_same_results(tmp_path, shared_run, revealed_logits):
    """3 parties, threshold 1: MPyC's own operations and the tuned code agree."""
    shared = shared_run(MPYC_MLP_3)
    stock_df, stock = _scored(shared.rows)
    tuned_df, tuned = _run(tmp_path, "mlp", 3, images=32, batch=32, variant="tuned")
    df = pd.concat([stock_df, tuned_df])
    assert (df["threshold"] == 1).all()
    assert stock["agreement"] >= 0.99 and tuned["agreement"] >= 0.99
    stock_logits = shared.logits
    tuned_logits = revealed_logits[-1]  # (the stock run, if it ran now, came first)
    assert (stock_logits.argmax(1) == tuned_logits.argmax(1)).all()
    # each within LOGIT_TOL of float64 (tuned rounds within ~T/2 units, stock within one)
    assert np.abs(stock_logits - tuned_logits).max() <= 2 * LOGIT_TOL
    configs = {json.loads(c)["variant"]: json.loads(c) for c in df["backend_config"].unique()}
    assert configs["tuned"]["speedups"] and configs["tuned"]["truncation"].startswith("PRSS")
    assert configs["tuned"]["security"]["tuned_changes"]
    assert configs["stock"]["security"]["tuned_changes"] == []
    _assert_traffic_balanced(df)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_conv_net_stock_and_tuned_agree_with_plaintext_and_each_other(tmp_path,
                                                                    revealed_logits):
    # MiniONN's network (conv, max pooling, ReLU, fc; Falcon's weights): stock takes about
    # 2.5 s per image at 3 parties; two images (each goes through every layer)
    stock_df, stock = _run(tmp_path / "stock", "minionn", 3, images=2, batch=2, timeout_s=420)
    tuned_df, tuned = _run(tmp_path / "tuned", "minionn", 3, images=2, batch=2, timeout_s=420,
                           variant="tuned")
    df = pd.concat([stock_df, tuned_df])
    assert stock["max_abs_err"] <= LOGIT_TOL and tuned["max_abs_err"] <= LOGIT_TOL
    assert stock["agreement"] == tuned["agreement"] == 1.0
    assert (revealed_logits[0].argmax(1) == revealed_logits[1].argmax(1)).all()
    assert np.abs(revealed_logits[0] - revealed_logits[1]).max() <= 2 * LOGIT_TOL
    _assert_traffic_balanced(df)


@pytest.mark.timeout(120)
def test_bnn_three_parties(tmp_path):
    _, run = _run(tmp_path, "bnn", 3, images=64, batch=64)
    # sign activations flip where a pre-activation rounds across zero
    assert run["agreement"] >= 0.95
    assert run["accuracy"] >= 0.9


@pytest.mark.timeout(120)
def test_two_parties_record_threshold_zero_and_stock_mpyc_agrees(tmp_path):
    df, run = _run(tmp_path, "mlp", 2, images=32, batch=32)
    assert (df["threshold"] == 0).all()
    config = json.loads(df["backend_config"].iloc[0])
    assert config["threshold"] == 0 and config["variant"] == "stock"
    assert "no secrecy" in config["security"]["note"]
    assert run["agreement"] >= 0.99


@pytest.mark.timeout(120)
def test_five_parties_truncate_with_ten_prss_terms(tmp_path):
    df, run = _run(tmp_path, "mlp", 5, images=32, batch=32, variant="tuned")
    assert (df["threshold"] == 2).all()
    config = json.loads(df["backend_config"].iloc[0])
    assert config["prss"] and config["prss_terms"] == 10
    assert config["truncation"].startswith("PRSS")
    assert run["agreement"] >= 0.99
    assert run["max_abs_err"] <= LOGIT_TOL
