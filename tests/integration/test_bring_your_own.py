"""A user's own network run end to end by ``mpcbench run`` with real party processes: an
ONNX file with CrypTen and MPyC, a factory with its weights file in plaintext and
CrypTen; each agrees with plaintext inference of the same graph, and its identity holds
the checksum of the user's files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from mpcbench import results
from tests.conftest import ONCE, invoke
from tests.data_models import export, trained

pytestmark = [pytest.mark.integration]

IMAGES = 4


@pytest.fixture(scope="module")
def network(tmp_path_factory) -> tuple[Path, Path]:
    """The trained network as an ONNX file and as a weights file (a state dict)."""
    where = tmp_path_factory.mktemp("network")
    model = trained()
    torch.save(model.state_dict(), where / "small.pt")
    return export(model, where / "small.onnx"), where / "small.pt"


def _run(results_dir: Path, *args: str) -> dict:
    """``mpcbench run ARGS`` on the test images; its stored run-level metrics and
    identity."""
    done = invoke("run", *ONCE, "--images", str(IMAGES), "--batch", str(IMAGES), "--results",
                  str(results_dir), *args)
    assert done.returncode == 0, done.stdout + done.stderr
    df = results.load(results_dir)
    assert set(df["status"]) == {"ok"}
    run = df[df["rank"] == -1].set_index("metric")["value"]
    return {"agreement": run["agreement"], "weights": df["weights_sha256"].iloc[0],
            "case_id": df["case_id"].iloc[0]}


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("framework", "parties"), [
    pytest.param("crypten", "2", marks=pytest.mark.crypten),
    pytest.param("mpyc", "3", marks=pytest.mark.mpyc)])
def test_an_onnx_file_runs_securely_and_agrees_with_plaintext(tmp_path, network, framework,
                                                              parties):
    path = network[0]
    run = _run(tmp_path, "-f", framework, "-n", parties, "-m", str(path))
    assert run["agreement"] >= 0.99
    assert run["weights"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert run["case_id"] == f"{framework}/{path}(dataset=mnist,n={parties},b={IMAGES})"


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("framework", "parties"), [
    ("plaintext", "1"), pytest.param("crypten", "2", marks=pytest.mark.crypten)])
def test_a_factory_with_its_weights_runs(tmp_path, network, framework, parties,
                                         monkeypatch):
    monkeypatch.chdir(Path(__file__).parents[2])  # where tests.data_models is importable
    weights = network[1]
    run = _run(tmp_path, "-f", framework, "-n", parties, "-m", "tests.data_models:small",
               "--weights", str(weights))
    assert run["agreement"] >= 0.99
    assert run["case_id"].startswith(f"{framework}/tests.data_models:small@{weights}(")
