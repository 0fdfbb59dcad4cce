"""The non-MPC baselines through the real launcher: their rows land in the results table.

The evaluation figures (attack MSE, robustness) are measured in the run
(``measure_attack=true``: a small attacker, a few images), not read from the cache."""

from __future__ import annotations

import pytest

from mpcbench import results
from tests.conftest import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

IMAGES, BATCH = 33, 8  # the last batch holds one image
#: complex64 features up (encoder output) and down (processed), per image
FEATURE_BYTES = (32 * 26 * 26 + 64 * 12 * 12) * 8


def _run(tmp_path, framework, model, parties, *options):
    sets = [arg for opt in ("measure_attack=true", *options) for arg in ("-s", opt)]
    proc = run_cli("run", "-f", framework, "-m", model, "-n", str(parties), "--threads", "1",
                   "--images", str(IMAGES), "--batch", str(BATCH), "-r", str(tmp_path), *sets)
    assert proc.returncode == 0, proc.stderr
    df = results.load(tmp_path)
    assert set(df["source"]) == {"measured"}  # nothing from the cache
    assert df["config"].str.contains("measure_attack=true").all()
    assert (df["parties"] == parties).all() and df["protocol"].str.startswith("none (").all()
    run = df[df["rank"] == -1].set_index("metric")["value"]
    assert run["accuracy"] > 0.9
    return df[df["phase"] == "total"]


@pytest.mark.parametrize("parties", [1, 2])
def test_complex_run_splits_client_and_server(tmp_path, parties):
    total = _run(tmp_path, "complex", "complex", parties, "attack_k=1")
    client = total[total["rank"] == 0].set_index("metric")["value"]
    server = total[total["rank"] == parties - 1].set_index("metric")["value"]
    assert client["client_wall_s"] > 0 and server["server_wall_s"] > 0
    assert client["feature_bytes"] == IMAGES * FEATURE_BYTES
    assert client["bytes_sent"] == IMAGES * 32 * 26 * 26 * 8
    methods = set(total.loc[total["rank"] >= 0, "comm_method"])
    assert methods == {"estimated" if parties == 1 else "counted"}
    assert 0 < client["attack_mse"] < 1 and 0 < client["cnn_attack_mse"] < 1
    assert 0 < client["attack_mse_phase"] < 1
    if parties == 2:
        assert "client_wall_s" not in server and "server_wall_s" not in client
        assert server["bytes_received"] == client["bytes_sent"]


def test_feedback_run_reports_robustness(tmp_path):
    total = _run(tmp_path, "feedback", "cnnf", 1)
    party = total[total["rank"] == 0].set_index("metric")["value"]
    for name in ("accuracy_noisy", "accuracy_fgsm", "accuracy_pgd"):
        assert 0 <= party[name] <= 1 and 0 <= party[f"cnn_{name}"] <= 1


def test_baselines_refuse_other_models_and_parties(tmp_path):
    proc = run_cli("run", "-f", "complex", "-m", "cnn", "-n", "1", "-r", str(tmp_path))
    assert proc.returncode == 2 and "complex runs model complex" in proc.stderr
    proc = run_cli("run", "-f", "feedback", "-m", "cnnf", "-n", "2", "-r", str(tmp_path))
    assert proc.returncode == 2 and "exactly 1" in proc.stderr
