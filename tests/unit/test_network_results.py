"""What the network does, computed from stored rows: links as requested and measured,
effective rounds (slope of time per batch against RTT) and the cost model."""

from __future__ import annotations

import pandas as pd
import pytest

from mpcbench.results import network, store
from tests.unit import report_data


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return store.load(report_data.write(tmp_path_factory.mktemp("r")))


def test_links_read_the_profile_and_the_probe(rows):
    links = network.links(rows).set_index("network")
    assert links.loc["wan", "rtt_s"] == pytest.approx(0.070)
    assert links.loc["wan", "rate_bps"] == pytest.approx(320e6)
    assert links.loc["wan", "measured_rtt_s"] == pytest.approx(0.070 * 1.02 + 2e-5)
    assert links.loc["lan1g", "delay_s"] == pytest.approx(0.25e-3)
    loopback = links[links.index == "none"]
    assert (loopback["rtt_s"] == 0).all() and loopback["rate_bps"].isna().all()


def test_by_network_keeps_one_series_across_networks(rows):
    table = network.by_network(rows)
    cell = table[(table["framework"] == "crypten") & (table["model"] == "mlp")
                 & (table["parties"] == 2) & (table["batch"] == 16)]
    assert sorted(cell["network"]) == ["lan1g", "none", "wan"]
    assert cell["series"].nunique() == 1 and cell["system"].nunique() == 3
    assert set(cell["system"]) == {"crypten", "crypten @lan1g", "crypten @wan"}


def _cells(times: dict[str, float], rounds: float = 6.0) -> pd.DataFrame:
    rtt = {"none": 0.0, "lan1g": 0.5e-3, "wan": 0.070}
    rate = {"none": float("nan"), "lan1g": 1e9, "wan": 320e6}
    return pd.DataFrame([{
        "framework": "crypten", "model": "cnn", "dataset": "mnist", "parties": 2,
        "network": n, "batch": 8, "provider": "TFP", "threshold": 1, "config": "provider=TFP",
        "model_owner": 0, "data_owners": "0", "output": "owners", "series": "crypten",
        "system": "crypten" + ("" if n == "none" else f" @{n}"), "kind": "MPC",
        "s_per_batch": t, "rtt_s": rtt[n], "rate_bps": rate[n], "rounds_per_batch": rounds,
        "mib_per_party_batch": 40.0} for n, t in times.items()])


def test_effective_rounds_are_the_slope_against_rtt():
    # 6 rounds of 70 ms on top of 1 s: the slope finds the 6
    table = _cells({"none": 1.0, "lan1g": 1.0 + 6 * 0.5e-3, "wan": 1.0 + 6 * 0.070})
    (row,) = network.effective_rounds(table).to_dict("records")
    assert row["effective_rounds_per_batch"] == pytest.approx(6.0)
    assert row["intercept_s"] == pytest.approx(1.0)
    assert row["counted_rounds_per_batch"] == 6.0


def test_cost_model_predicts_local_plus_rounds_times_rtt_plus_bytes_over_rate():
    table = _cells({"none": 1.0, "wan": 2.0})
    (row,) = network.cost_model(table).to_dict("records")
    expected = 1.0 + 6 * 0.070 + 40 * 2**20 * 8 / 320e6
    assert row["predicted_s_per_batch"] == pytest.approx(expected)
    assert row["measured_over_predicted"] == pytest.approx(2.0 / expected)


def test_a_cell_on_one_network_has_no_effective_rounds():
    assert network.effective_rounds(_cells({"none": 1.0})).empty
    assert network.cost_model(_cells({"wan": 1.0})).empty
