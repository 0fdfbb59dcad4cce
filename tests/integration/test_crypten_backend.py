"""CrypTen secure inference with real party processes over loopback sockets.

Every run goes through the launcher (one OS process per party, gloo over TCP) on the
first MNIST test images and is scored against the plaintext evaluation of the same
layer description. Tolerance: CrypTen encodes with 16 fractional bits and truncates
after every product, so logits differ from float64 by about 1e-3 here; ``LOGIT_TOL``
leaves an order of magnitude of headroom.
"""

from __future__ import annotations

import pandas as pd
import pytest

from mpcbench.case import Case
from mpcbench.launch.runner import run_case

pytestmark = [pytest.mark.integration, pytest.mark.crypten]

IMAGES = 16
LOGIT_TOL = 0.02
BATCH = {"mlp": 16, "bnn": 16, "cnn": 8}


def _run(tmp_path, model: str, parties: int, **options) -> pd.DataFrame:
    case = Case("crypten", model, parties=parties, images=IMAGES, batch=BATCH[model],
                options=options)
    return run_case(case, tmp_path, timeout_s=120).rows


def _run_metrics(rows: pd.DataFrame) -> pd.Series:
    return rows[rows["rank"] == -1].set_index("metric")["value"]


def _party_metric(rows: pd.DataFrame, phase: str, metric: str) -> pd.Series:
    sel = rows[(rows["rank"] >= 0) & (rows["phase"] == phase) & (rows["metric"] == metric)]
    return sel.set_index("rank")["value"]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("parties", [2, 3])
@pytest.mark.parametrize("model", ["mlp", "bnn", "cnn"])
def test_secure_inference_matches_plaintext(tmp_path, model, parties):
    rows = _run(tmp_path, model, parties)
    assert (rows["status"] == "ok").all()
    run = _run_metrics(rows)
    assert run["agreement"] >= 0.99
    assert run["max_abs_err"] < LOGIT_TOL
    assert run["accuracy"] >= 0.9
    sent = _party_metric(rows, "infer", "bytes_sent")
    received = _party_metric(rows, "infer", "bytes_received")
    assert len(sent) == parties and (sent > 0).all() and (received > 0).all()
    assert (_party_metric(rows, "infer", "rounds") > 0).all()
    assert set(rows.loc[rows["rank"] >= 0, "comm_method"]) == {"counted"}


@pytest.mark.timeout(90)
def test_stock_crypten_sends_the_same_messages_as_tuned(tmp_path):
    """``tuned=false`` runs CrypTen's own code: same results, rounds and (nearly) bytes."""
    tuned = _run(tmp_path / "tuned", "mlp", 3)
    stock = _run(tmp_path / "stock", "mlp", 3, tuned=False)
    assert _run_metrics(stock)["agreement"] >= 0.99
    assert _run_metrics(stock)["max_abs_err"] < LOGIT_TOL
    rounds = [_party_metric(df, "infer", "rounds") for df in (tuned, stock)]
    assert rounds[0].equals(rounds[1])
    sent = [_party_metric(df, "infer", "bytes_sent").sum() for df in (tuned, stock)]
    # the payload is identical; fused openings only save gloo's per-message framing
    assert 0.95 * sent[1] <= sent[0] <= sent[1]
