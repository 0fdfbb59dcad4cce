"""Sixteen parties on this machine's cores: every party is alive however slowly it is
scheduled, and the run completes and agrees with plaintext (the heavier sixteen-party
measurements are in benchmarks/network16.yaml)."""

from __future__ import annotations

import json

import pytest

from mpcbench import results
from mpcbench.launch.liveness import SILENT_S
from tests.conftest import invoke, party_processes

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.mark.parametrize("framework", [pytest.param("crypten", marks=pytest.mark.crypten),
                                       pytest.param("mpyc", marks=pytest.mark.mpyc)])
def test_sixteen_parties_complete_and_agree_with_plaintext(tmp_path, framework):
    proc = invoke("run", "-f", framework, "-m", "mlp", "-n", "16", "--images", "2",
                  "--batch", "2", "-r", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    df = results.load(tmp_path)
    assert df["status"].unique().tolist() == ["ok"]
    assert sorted(df.loc[df["rank"] >= 0, "rank"].unique()) == list(range(16))
    run = df[df["rank"] == -1].set_index("metric")["value"]
    assert run["agreement"] == 1.0
    liveness = json.loads(df["backend_config"].iloc[0])["liveness"]
    assert len(liveness) == 16
    # every party beat throughout, however loaded the cores (the load is recorded)
    assert max(p["longest_beat_gap_s"] for p in liveness) < SILENT_S
    assert all(p["max_load"] is not None and p["cores"] >= 1 for p in liveness)
    assert party_processes(str(tmp_path)) == []
