"""Dealer rows (rank ``parties``, role ``dealer``) in the summary and the report's table of
online vs offline traffic: the dealer is not a computing party, its links are offline."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mpcbench.report import dealer
from mpcbench.results import runs, summary
from mpcbench.results.schema import conform

from .report_data import _run

MIB = 2**20


def _ttp_run(parties: int = 2) -> pd.DataFrame:
    """A synthetic CrypTen TTP run: party 0 exchanges 1 MiB per image with the dealer."""
    rows = _run(1, "crypten", "mlp", parties, images=32, repeats=2, warmup=0)
    total = rows["phase"].eq("total")
    rows.loc[total & rows["rank"].eq(0) & rows["metric"].eq("bytes_received_offline"),
             "value"] = 0.75 * 32 * MIB
    rows.loc[total & rows["rank"].eq(0) & rows["metric"].eq("bytes_sent_offline"),
             "value"] = 0.25 * 32 * MIB
    base = rows.iloc[0]
    own = {"rank": parties, "repeat": 0, "is_warmup": False, "role": "dealer"}
    dealer_rows = pd.DataFrame([
        {**own, "phase": "deal", "metric": "bytes_sent", "value": 0.75 * 64 * MIB, "unit": "B"},
        {**own, "phase": "setup", "metric": "wall_s", "value": 99.0, "unit": "s"},
        {**own, "phase": "deal", "metric": "cpu_s", "value": 6.4, "unit": "s"},
        {**own, "phase": "process", "metric": "peak_rss_bytes", "value": 300 * MIB,
         "unit": "B"},
    ])
    shared = {c: base[c] for c in rows.columns if c not in dealer_rows.columns}
    rows = pd.concat([rows, dealer_rows.assign(**shared)], ignore_index=True)
    security = {"security": {"dealer": f"a separate party (rank {parties}), not a data or "
                                       "model owner"}}
    return conform(rows.assign(provider="TTP", backend_config=json.dumps(security)))


def test_the_dealer_is_not_a_computing_party_and_its_links_are_offline():
    rows = _ttp_run()
    plain = summary.summary(conform(_run(1, "crypten", "mlp", 2, images=32, repeats=2,
                                         warmup=0))).iloc[0]
    cell = summary.summary(rows).iloc[0]
    # the dealer's rows change neither time, nor a party's memory, nor the setup phase
    assert cell["s_per_img"] == plain["s_per_img"]
    assert cell["peak_rss_mib"] == plain["peak_rss_mib"]
    setup = summary.phases(rows).set_index("phase").loc["setup", "s_per_img"]
    assert setup < 99.0 / 32
    # offline: party 0's bytes with the dealer, both ways (1 MiB per image of 2 repeats)
    assert cell["offline_mib_per_img"] == pytest.approx(1.0)
    assert cell["online_mib_per_img"] == pytest.approx(plain["mib_per_img"] - 0.25)
    assert cell["mib_per_img"] == pytest.approx(plain["mib_per_img"] + 0.75)
    assert cell["dealer_rss_mib"] == 300
    assert cell["dealer_cpu_s_per_img"] == pytest.approx(6.4 / (32 * 2))  # 2 repeats served
    run = runs.runs(rows).iloc[0]
    assert run["dealer_rss_mib"] == 300 and run["offline_mib_per_img"] == pytest.approx(1.0)


def test_report_table_puts_online_and_offline_side_by_side():
    rows = pd.concat([_ttp_run(), conform(_run(2, "mpyc", "mlp", 3))], ignore_index=True)
    table = dealer.table(summary.summary(rows), rows).set_index("system")
    assert list(table.columns) == dealer.COLUMNS[1:]
    ttp, mpyc = table.loc["crypten"], table.loc["mpyc"]
    assert ttp["randomness"].startswith("a separate party (rank 2)")
    assert ttp["offline_mib_per_img"] > 0 and ttp["dealer_rss_mib"] == 300
    assert mpyc["randomness"] == "PRSS" and mpyc["offline_mib_per_img"] == 0
    assert pd.isna(mpyc["dealer_rss_mib"])
