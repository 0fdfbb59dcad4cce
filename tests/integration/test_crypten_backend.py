"""CrypTen secure inference with real party processes over loopback sockets.

Every run goes through the launcher (one OS process per party, gloo over TCP) on the
first MNIST test images and is scored against the plaintext evaluation of the same
layer graph. Tolerance: CrypTen encodes with 16 fractional bits and truncates
after every product, so logits differ from float64 by about 1e-3 here; ``LOGIT_TOL``
leaves an order of magnitude of headroom. A stock run is made once for all the tests
that assert on it (``shared_run``).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mpcbench.case import Case
from mpcbench.launch.runner import run_case

pytestmark = [pytest.mark.integration, pytest.mark.crypten]

LOGIT_TOL = 0.02
#: one batch of each model's images (the cnn's are the slow ones)
IMAGES = {"mlp": 16, "bnn": 16, "cnn": 4}


def _case(model: str, parties: int, **options) -> Case:
    return Case("crypten", model, parties=parties, images=IMAGES[model], batch=IMAGES[model],
                options=options)


def _run(tmp_path, model: str, parties: int, **options) -> pd.DataFrame:
    return run_case(_case(model, parties, **options), tmp_path, timeout_s=240).rows


def assert_traffic_balanced(rows: pd.DataFrame) -> None:
    """For every phase, the bytes all parties sent equal the bytes all parties received."""
    party = rows[(rows["rank"] >= 0) & rows["metric"].isin(["bytes_sent", "bytes_received"])]
    traffic = party.groupby(["phase", "repeat", "metric"])["value"].sum().unstack("metric")
    assert len(traffic) > 0
    for (phase, repeat), row in traffic.iterrows():
        assert row["bytes_sent"] == row["bytes_received"], (phase, repeat)


def _run_metrics(rows: pd.DataFrame) -> pd.Series:
    return rows[rows["rank"] == -1].set_index("metric")["value"]


def _party_metric(rows: pd.DataFrame, phase: str, metric: str) -> pd.Series:
    sel = rows[(rows["rank"] >= 0) & (rows["phase"] == phase) & (rows["metric"] == metric)]
    return sel.set_index("rank")["value"]


# stock CrypTen (the default) max-pools with its own max_pool2d: the 3-party cnn takes
# about 25 s on 2 idle cores, 65 s on a loaded machine
@pytest.mark.timeout(240)
@pytest.mark.parametrize("parties", [2, 3])
@pytest.mark.parametrize("model", ["mlp", "bnn", "cnn"])
def test_secure_inference_matches_plaintext(shared_run, model, parties):
    rows = shared_run(_case(model, parties)).rows
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


@pytest.mark.timeout(240)
def test_pool_before_relu_is_a_named_rewrite_that_saves_traffic(tmp_path, shared_run):
    """``rewrite=pool_before_relu`` runs ``MaxPool, ReLU`` for the cnn's ``ReLU, MaxPool``:
    recorded, labelled, the same logits, and fewer bytes than the network as given."""
    from mpcbench.results.labels import cell_label

    given = shared_run(_case("cnn", 2)).rows
    rewritten = _run(tmp_path, "cnn", 2, rewrite="pool_before_relu")
    config = json.loads(rewritten["backend_config"].iloc[0])
    (note,) = config["layer_rewrites"]
    assert note.startswith("nodes 3-4: ReLU, MaxPool2d(2) -> MaxPool2d(2), ReLU")
    assert "rewrite=pool_before_relu" in rewritten["config"].iloc[0]
    assert set(cell_label(rewritten)) == {"crypten+pool_before_relu"}
    assert set(cell_label(given)) == {"crypten"}
    assert _run_metrics(rewritten)["agreement"] >= 0.99
    sent = [_party_metric(rows, "infer", "bytes_sent").sum() for rows in (given, rewritten)]
    assert sent[1] < 0.9 * sent[0], sent


@pytest.mark.timeout(300)
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_stock_and_tuned_reveal_the_same_results(tmp_path, shared_run, revealed_logits, model):
    """2 parties: ``variant=stock`` (CrypTen's own code, its max_pool2d) and ``tuned``
    reveal the same argmax and logits within the fixed-point tolerance.

    Payload: on the mlp both send the same tensors (CrypTen's own count of elements is
    equal; the kernel's count differs only by gloo's framing, as tuned batches openings
    into fewer messages). On the cnn CrypTen's ``max_pool2d`` also computes a one-hot
    argmax (for training), so stock sends more than the tuned max-pool tree.
    """
    shared = shared_run(_case(model, 2))
    stock, stock_logits = shared.rows, shared.logits
    tuned = _run(tmp_path, model, 2, variant="tuned")
    tuned_logits = revealed_logits[-1]  # (the stock run, if it ran now, came first)
    for rows, variant in ((stock, "stock"), (tuned, "tuned")):
        config = json.loads(rows["backend_config"].iloc[0])
        assert config["variant"] == variant and config["security"]["variant"] == variant
        assert config["speedups"] == (variant == "tuned")
        assert config["range"]["margin_bits"] > 0
        assert config["layer_rewrites"] == []  # the network as given
        assert "rewrite=none" in rows["config"].iloc[0]
        assert _run_metrics(rows)["agreement"] >= 0.99
        assert_traffic_balanced(rows)
    assert (stock_logits.argmax(1) == tuned_logits.argmax(1)).all()
    assert np.abs(stock_logits - tuned_logits).max() < LOGIT_TOL
    estimated = [_party_metric(df, "total", "crypten_estimated_bytes").sum()
                 for df in (stock, tuned)]
    sent = [_party_metric(df, "infer", "bytes_sent").sum() for df in (stock, tuned)]
    if model == "mlp":
        assert estimated[0] == estimated[1]
        rounds = [_party_metric(df, "infer", "rounds") for df in (stock, tuned)]
        assert rounds[0].equals(rounds[1])
        # gloo's framing only: tuned sends one message per batched opening (CrypTen one
        # per tensor, each a two-step ring); ~5 % of the mlp's small openings at batch 16
        assert 0.9 * sent[0] <= sent[1] <= sent[0]
    else:
        assert estimated[0] > estimated[1] and sent[0] > sent[1]


@pytest.mark.timeout(90)
def test_tuned_three_parties_sends_the_same_payload_as_stock(tmp_path, shared_run):
    stock = shared_run(_case("mlp", 3)).rows
    tuned = _run(tmp_path, "mlp", 3, variant="tuned")
    assert _run_metrics(tuned)["agreement"] >= 0.99
    rounds = [_party_metric(df, "infer", "rounds") for df in (stock, tuned)]
    assert rounds[0].equals(rounds[1])
    sent = [_party_metric(df, "infer", "bytes_sent").sum() for df in (stock, tuned)]
    # the payload is identical; fused openings only save gloo's per-message framing
    assert 0.95 * sent[0] <= sent[1] <= sent[0]
    assert_traffic_balanced(stock)
    assert_traffic_balanced(tuned)
