"""The non-MPC baselines through the real launcher: their rows land in the results table.

The evaluation figures (attack MSE, robustness) are measured in the run
(``measure_attack=true``: a small attacker, a few images), not read from the cache. The
commands run in this process (:func:`~tests.conftest.invoke`), their parties as real
processes; the split and VAE runs are made once for the test of their rows and for the
report's sections."""

from __future__ import annotations

import pandas as pd
import pytest

from mpcbench import models, results
from mpcbench.results import store
from tests.conftest import ONCE, invoke
from tests.integration.conftest import CRYPTEN_MLP_2

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

IMAGES, BATCH = 33, 8  # the last batch holds one image
#: complex64 features up (encoder output) and down (processed), per image
FEATURE_BYTES = (32 * 26 * 26 + 64 * 12 * 12) * 8


def _run(tmp_path, framework, model, parties, *options):
    sets = [arg for opt in ("measure_attack=true", *options) for arg in ("-s", opt)]
    proc = invoke("run", *ONCE, "-f", framework, "-m", model, "-n", str(parties), "--threads", "1",
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
    proc = invoke("run", "-f", "complex", "-m", "cnn", "-n", "1", "-r", str(tmp_path))
    assert proc.returncode == 2 and "complex runs model complex" in proc.stderr
    proc = invoke("run", "-f", "feedback", "-m", "cnnf", "-n", "2", "-r", str(tmp_path))
    assert proc.returncode == 2 and "exactly 1" in proc.stderr


def _baseline_run(tmp_path, framework, parties, *options, model=None, images=IMAGES):
    """``mpcbench run -f framework`` through the launcher (without ``-m``: a baseline's
    own model); the rows."""
    sets = [arg for opt in options for arg in ("-s", opt)]
    chosen = ["-m", model] if model else []
    proc = invoke("run", *ONCE, "-f", framework, *chosen, "-n", str(parties), "--threads", "1",
                  "--images", str(images), "--batch", str(BATCH), "-r", str(tmp_path), *sets)
    assert proc.returncode == 0, proc.stderr
    return results.load(tmp_path)


#: the noise of the split run's DP-SGD weights
SPLIT_NOISE = 0.7
#: the VAE run's encoder noise
VAE_SIGMA = 0.1


@pytest.fixture(scope="module")
def split_rows(tmp_path_factory):
    """Rows of a 2-party split run with its attack measured."""
    return _baseline_run(tmp_path_factory.mktemp("split"), "split", 2, "measure_attack=true",
                         f"noise_multiplier={SPLIT_NOISE}")


@pytest.fixture(scope="module")
def vae_rows(tmp_path_factory):
    """Rows of a 2-party VAE run with its attack measured."""
    return _baseline_run(tmp_path_factory.mktemp("vae"), "vae", 2, "measure_attack=true",
                         f"sigma_enc={VAE_SIGMA}")


def _party(df, rank=0):
    rows = df[(df["phase"] == "total") & (df["rank"] == rank)]
    return rows.set_index("metric")["value"], rows.set_index("metric")["source"]


def test_split_run_sends_the_activation_and_measures_the_attack(split_rows):
    df = split_rows
    assert set(df["source"]) == {"measured"}
    assert df["config"].str.contains(f"noise_multiplier={SPLIT_NOISE}").all()
    client, _ = _party(df, 0)
    server, _ = _party(df, 1)
    activation = 4 * 32 * 26 * 26
    assert client["activation_bytes_per_img"] == activation
    assert client["bytes_sent"] == IMAGES * activation == server["bytes_received"]
    assert server["bytes_sent"] == IMAGES * 10 * 4  # float32 logits back
    assert client["client_s_per_img"] > 0 and server["server_s_per_img"] > 0
    # epsilon of these weights' DP-SGD training, recomputed by the accountant
    manifest = models.read_manifest()[f"split-dp{SPLIT_NOISE}-mnist.pt"]
    assert client["epsilon"] == pytest.approx(manifest["epsilon"])
    assert 0 < client["attack_mse"] < 0.2 and 0 < client["attack_mse_cross_data"] < 0.2
    run = df[df["rank"] == -1].set_index("metric")["value"]
    assert run["accuracy"] == pytest.approx(_split_accuracy(SPLIT_NOISE))


def _split_accuracy(noise):
    """Accuracy of the split weights on the run's test images, computed here."""
    import torch

    from mpcbench import data
    from mpcbench.baselines.split import model

    x, y = data.load("mnist", "test", limit=IMAGES)
    with torch.no_grad():
        return float((model.load("mnist", noise)(x).argmax(1) == y).double().mean())


def test_split_run_reads_cached_figures_as_cached(tmp_path):
    from mpcbench.baselines.cache import load_evaluation
    from mpcbench.baselines.split import evaluation

    cached = load_evaluation("split", "mnist")
    if cached is None:
        pytest.skip("no evaluation cache of the split weights (python -m mpcbench.baselines)")
    df = _baseline_run(tmp_path, "split", 1)
    client, source = _party(df)
    assert client["attack_mse"] == cached["attack_mse"] and source["attack_mse"] == "cached"
    assert source["attack_mse_cross_data"] == "cached"
    assert client["epsilon"] == float("inf") and source["epsilon"] == "measured"
    assert client["bytes_per_img"] == 4 * 32 * 26 * 26 + 4 * 10  # estimated in one process
    assert set(df.loc[df["rank"] == 0, "comm_method"]) == {"estimated"}
    proc = invoke("report", "-r", str(tmp_path), "-o", str(tmp_path / "report"))
    assert proc.returncode == 0, proc.stderr
    figure = tmp_path / "report" / "reconstructions-0.png"  # the cache's, embedded too
    assert figure.read_bytes() == evaluation.figure_path("mnist").read_bytes()
    assert "reconstructions-0.png" in (tmp_path / "report" / "index.html").read_text()


def test_complex_adversarial_encoder_is_an_option(tmp_path):
    df = _baseline_run(tmp_path, "complex", 2, "measure_attack=true", "encoder=adversarial")
    assert set(df["source"]) == {"measured"}
    assert df["config"].str.contains("encoder=adversarial").all()
    weights = models.weights_info("complex-adv", "mnist").sha256
    assert df["identity"].str.contains(weights).all()
    client, _ = _party(df, 0)
    for metric in ("attack_mse_k2", "attack_mse_k8", "attack_mse_phase", "attack_mse_mean_phase"):
        assert 0 < client[metric] < 1
    run = df[df["rank"] == -1].set_index("metric")["value"]
    assert run["accuracy"] > 0.7


def test_vae_run_certifies_and_attacks(vae_rows):
    df = vae_rows
    assert set(df["source"]) == {"measured"}
    assert df["config"].str.contains(f"sigma_enc={VAE_SIGMA}").all()
    client, _ = _party(df, 0)
    server, _ = _party(df, 1)
    assert client["bytes_sent"] == IMAGES * 64 * 4 == server["bytes_received"]
    assert server["bytes_sent"] == IMAGES * 784 * 4
    assert "accuracy" not in set(df["metric"])  # no classifier, no accuracy row
    assert client["certified_radius"] == pytest.approx(1 / client["lipschitz_reconstruction"])
    assert client["certificate_held"] == 1
    for r in (0.5, 1, 2, 4):
        damage = client[f"attack_damage_max_r{r:g}"]
        assert 0 < client[f"attack_damage_r{r:g}"] <= damage
        assert damage <= r * client["lipschitz_reconstruction"]
    assert 0 < client["reconstruction_mse"] < 0.1


def test_baseline_options_are_checked_before_launch(tmp_path):
    for framework, option, message in (
            ("split", "noise_multiplier=0.9", "noise_multiplier must be one of"),
            ("vae", "sigma_enc=0.3", "must be one of"),
            ("complex", "encoder=other", "encoder must be one of")):
        proc = invoke("run", "-f", framework, "-m", framework, "-n", "1", "-s", option,
                      "-r", str(tmp_path))
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert not list(tmp_path.glob("*.parquet"))


def test_privacy_and_robustness_sections_render_from_real_rows(tmp_path, split_rows, vae_rows,
                                                              shared_run):
    """From the split and VAE runs above, a plaintext run and a CrypTen run (the one other
    files assert on), stored in one results directory."""
    res, out = tmp_path / "res", tmp_path / "report"
    for rows in (split_rows, vae_rows, shared_run(CRYPTEN_MLP_2).rows):
        store.append(rows, res)
    _baseline_run(res, "plaintext", 1, model="mlp")  # in neither section
    proc = invoke("report", "-r", str(res), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    privacy = pd.read_csv(out / "privacy.csv")
    assert list(privacy["system"]) == ["crypten", "split", "split"]
    mpc, split = privacy.iloc[0], privacy.iloc[1:]
    assert mpc["attack_mse"] == (  # what CrypTen's TFP protects, party 0 owning every input
        "n/a \N{EM DASH} party 0 generates all correlated randomness in the clear (trusted "
        "first party), so party 0 could learn every other party's inputs \N{EM DASH} none "
        "here (party 0 owns the model and all images); private against any coalition "
        "without party 0 (semi-honest)")
    assert (split["source"] == "measured").all()
    assert pd.to_numeric(split["attack_mse"]).between(0, 1).all()
    assert split["epsilon"].iloc[0] == pytest.approx(
        models.read_manifest()[f"split-dp{SPLIT_NOISE}-mnist.pt"]["epsilon"])
    assert (split["bytes_per_img"] > 4 * 32 * 26 * 26).all()
    vae = pd.read_csv(out / "robustness_vae.csv")
    assert list(vae["sigma_enc"]) == [VAE_SIGMA] and list(vae["certificate held"]) == ["yes"]
    assert vae["verdict"].iloc[0].startswith("held on every image")
    page = (out / "index.html").read_text()
    assert "Privacy: what an attacker on the wire recovers" in page
    assert "Robustness: VAE Lipschitz certificate" in page
