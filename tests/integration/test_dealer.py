"""CrypTen's trusted third party (provider TTP) as a dealer process of its own, with real
processes over loopback sockets: it agrees with plaintext, its rows are there (rank
``parties``, role ``dealer``) with the traffic it carried, its bytes are the parties'
offline bytes, and a killed dealer fails the run fast, named, with nothing left behind.
(That runs without a dealer show no offline traffic is a case of the conformance battery,
``tests/integration/test_conformance.py``, for every framework.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pandas as pd
import psutil
import pytest

from mpcbench.case import Case
from mpcbench.launch.runner import run_case
from mpcbench.results.summary import summary
from tests.conftest import ONCE, REPO, party_processes

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

IMAGES, BATCH = 8, 4
#: CrypTen's 16 fractional bits: logits within about 1e-3 of float64 (as in its tests)
LOGIT_TOL = 0.02
OFFLINE = ["bytes_sent_offline", "bytes_received_offline"]


def _metric(rows: pd.DataFrame, phase: str, metric: str) -> pd.Series:
    sel = rows[(rows["rank"] >= 0) & (rows["phase"] == phase) & (rows["metric"] == metric)]
    return sel.set_index("rank")["value"]


@pytest.mark.crypten
@pytest.mark.parametrize("parties", [2, 3])
def test_ttp_agrees_with_plaintext_and_stores_the_dealer(tmp_path, parties):
    case = Case("crypten", "mlp", parties=parties, images=IMAGES, batch=BATCH,
                options={"provider": "TTP"})
    rows = run_case(case, tmp_path, timeout_s=150).rows
    assert (rows["status"] == "ok").all()
    run = rows[rows["rank"] == -1].set_index("metric")["value"]
    assert run["agreement"] == 1.0 and run["max_abs_err"] < LOGIT_TOL

    dealer = rows[rows["rank"] == parties]
    assert set(dealer["role"]) == {"dealer"}
    assert not rows.loc[rows["rank"] < parties, "role"].eq("dealer").fillna(False).any()
    assert set(dealer["phase"]) == {"setup", "deal", "process"}
    deal = dealer[dealer["phase"] == "deal"].set_index("metric")["value"]
    assert deal["bytes_sent"] > 0 and deal["bytes_received"] > 0 and deal["cpu_s"] > 0
    assert deal["bytes_sent_offline"] == deal["bytes_sent"]  # a dealer moves only offline
    assert dealer.set_index(["phase", "metric"]).loc[("process", "peak_rss_bytes"), "value"] > 0

    # party 0 asks for every triple: it alone exchanges them with the dealer while computing
    off_received = _metric(rows, "total", "bytes_received_offline")
    assert off_received[0] > 0 and (off_received.drop(0) == 0).all()
    # what the dealer sent (setup: seeds; deal: party 0's shares) is what the parties got
    # from it, up to gloo's control messages
    dealt = dealer[dealer["metric"] == "bytes_sent"]["value"].sum()
    got = sum(_metric(rows, p, "bytes_received_offline").sum() for p in ("setup", "total"))
    assert abs(got - dealt) <= 0.01 * dealt
    # party-to-party (online) bytes still balance in every phase
    for phase in ("share", "infer", "reveal", "total"):
        sent = _metric(rows, phase, "bytes_sent") - _metric(rows, phase, "bytes_sent_offline")
        received = (_metric(rows, phase, "bytes_received")
                    - _metric(rows, phase, "bytes_received_offline"))
        assert sent.sum() == received.sum(), phase

    security = json.loads(rows["backend_config"].iloc[0])["security"]
    assert security["dealer"] == f"a separate party (rank {parties}), not a data or model owner"
    assert set(rows["provider"]) == {"TTP"}

    cell = summary(rows).iloc[0]  # the dealer's rows are not a computing party's
    assert cell["parties"] == parties and cell["offline_mib_per_img"] > 0
    assert cell["dealer_rss_mib"] > 0 and cell["online_mib_per_img"] > 0
    assert cell["mib_per_img"] == pytest.approx(cell["online_mib_per_img"]
                                                + cell["offline_mib_per_img"])


@pytest.mark.crypten
def test_on_an_emulated_network_the_dealer_is_a_host_of_its_own(tmp_path):
    """Needs root (network namespaces), like the other emulated-network tests."""
    case = Case("crypten", "mlp", parties=2, images=4, batch=4, options={"provider": "TTP"},
                network="lan")
    rows = run_case(case, tmp_path, timeout_s=150).rows
    assert rows[rows["rank"] == -1].set_index("metric")["value"]["agreement"] == 1.0
    hosts = rows[rows["rank"] >= 0].groupby("rank")["host"].first()
    assert list(hosts.index) == [0, 1, 2] and hosts.nunique() == 3
    placement = json.loads(rows["backend_config"].iloc[0])["placement"]
    assert placement["kind"] == "emulated" and placement["hosts"] == list(hosts)
    assert _metric(rows, "total", "bytes_received_offline")[0] > 0


def _start_long_ttp_run(tmp_path) -> subprocess.Popen:
    """A 2-party TTP run in the background; returns once its parties are computing."""
    cmd = [sys.executable, "-m", "mpcbench", "run", *ONCE, "-f", "crypten", "-m", "mlp", "-n", "2",
           "--images", "10000", "--batch", "4", "--set", "provider=TTP", "-r", str(tmp_path)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 90
    while not any("@mpcbench progress" in log.read_text()
                  for log in tmp_path.glob("logs/*/party0.log")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "run never started"
        time.sleep(0.2)
    return proc


def _rank(proc: psutil.Process) -> str:
    cmd = proc.cmdline()
    return cmd[cmd.index("--rank") + 1]


@pytest.mark.crypten
def test_the_dealer_dies_with_a_sigkilled_launcher(tmp_path):
    proc = _start_long_ttp_run(tmp_path)
    try:
        workers = party_processes(str(tmp_path))
        assert sorted(_rank(p) for p in workers) == ["0", "1", "2"]
        proc.kill()
        proc.wait()
        _, alive = psutil.wait_procs(workers, timeout=5)
    finally:
        proc.kill()
    assert alive == []
