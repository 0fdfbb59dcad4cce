"""A user's own network run end to end by ``mpcbench run`` with real party processes: an
ONNX file with CrypTen and MPyC, a factory with its weights file in plaintext and
CrypTen; each agrees with plaintext inference of the same graph, and its identity holds
the checksum of the user's files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from mpcbench import models, results
from mpcbench.models import exported
from mpcbench.models import layers as L
from tests.conftest import ONCE, REPO, invoke
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


def _arrays(graph: L.Graph) -> list[np.ndarray]:
    return [a for op in graph.ops if isinstance(op, L.Affine) for a in (op.weight, op.bias)]


@pytest.mark.timeout(60)
def test_a_users_network_is_exported_for_parties_without_torch(tmp_path, network,
                                                                monkeypatch):
    """Into an empty cache, by ``python -m mpcbench.models.exported`` in a child process:
    the ONNX file's graph and the factory's structure as the launcher imports them; a
    file that is no network fails with the child's reason."""
    monkeypatch.chdir(REPO)  # where tests.data_models is importable
    onnx, factory = str(network[0]), f"tests.data_models:small@{network[1]}"
    for got, want in ((exported.graph(onnx, "mnist", tmp_path), models.graph(onnx, "mnist")),
                      (exported.structure(factory, tmp_path), models.structure(factory))):
        assert [L.describe_op(op) for op in got.ops] == [L.describe_op(op) for op in want.ops]
        assert all(np.array_equal(a, b) for a, b in zip(_arrays(got), _arrays(want),
                                                        strict=True))
    assert any(a.any() for a in _arrays(exported.graph(onnx, "mnist", tmp_path)))
    assert len(list(tmp_path.glob("*.npz"))) == 2
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a network")
    failed = r"exporting the layer graph of \S*broken\.onnx failed: \w+"
    with pytest.raises(models.ModelError, match=failed):
        exported.graph(str(broken), "mnist", tmp_path)
