"""MPyC parties as real processes over loopback sockets, through the launcher."""

from __future__ import annotations

import json

import pytest

from mpcbench import results
from mpcbench.case import Case
from mpcbench.launch.runner import run_case

pytestmark = [pytest.mark.integration, pytest.mark.mpyc]

#: largest logit error allowed: inputs and activations carry 7 fractional bits, weights 10
LOGIT_TOL = 0.5


def _run(tmp_path, model: str, parties: int, images: int, batch: int, timeout_s: float = 240,
         **options):
    case = Case("mpyc", model, parties=parties, images=images, batch=batch, options=options)
    run_case(case, tmp_path, timeout_s=timeout_s)
    df = results.load(tmp_path)
    assert (df["status"] == "ok").all()
    return df, df[df["rank"] == -1].set_index("metric")["value"]


@pytest.mark.timeout(120)
def test_mlp_three_parties_agrees_with_plaintext(tmp_path):
    df, run = _run(tmp_path, "mlp", 3, images=64, batch=32)
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
    assert config["bit_length"] == 14 and config["frac_bits"] == 7 and config["tuned"]


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_cnn_three_parties_agrees_with_plaintext(tmp_path):
    # about 8 s per image at 3 parties on two idle cores: the 16 images take ~2 minutes
    _, run = _run(tmp_path, "cnn", 3, images=16, batch=16, timeout_s=420)
    assert run["agreement"] == 1.0
    assert run["max_abs_err"] <= LOGIT_TOL


@pytest.mark.timeout(120)
def test_bnn_three_parties(tmp_path):
    _, run = _run(tmp_path, "bnn", 3, images=64, batch=64)
    # sign activations flip where a pre-activation rounds across zero
    assert run["agreement"] >= 0.95
    assert run["accuracy"] >= 0.9


@pytest.mark.timeout(120)
def test_two_parties_record_threshold_zero_and_stock_mpyc_agrees(tmp_path):
    df, run = _run(tmp_path, "mlp", 2, images=32, batch=32, tuned=False)
    assert (df["threshold"] == 0).all()
    config = json.loads(df["backend_config"].iloc[0])
    assert config["threshold"] == 0 and not config["tuned"]
    assert "no secrecy" in config["security"]["note"]
    assert run["agreement"] >= 0.99


@pytest.mark.timeout(120)
def test_five_parties_truncate_with_ten_prss_terms(tmp_path):
    df, run = _run(tmp_path, "mlp", 5, images=32, batch=32)
    assert (df["threshold"] == 2).all()
    config = json.loads(df["backend_config"].iloc[0])
    assert config["prss"] and config["prss_terms"] == 10
    assert config["truncation"].startswith("PRSS")
    assert run["agreement"] >= 0.99
    assert run["max_abs_err"] <= LOGIT_TOL
