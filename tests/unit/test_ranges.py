"""The range check before secret sharing (plaintext pass, backend limits, the inference
workload's record, runner)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mpcbench import data, models
from mpcbench.case import Case
from mpcbench.launch import runner, workloads
from mpcbench.models import layers as L
from mpcbench.models import ranges
from mpcbench.parties import get


def _range(case: Case) -> dict | None:
    """The range check a run of ``case`` records (before its parties start)."""
    return workloads.of(case, get(case.framework)).model_record()["range"]


def test_peaks_cover_inputs_pre_activations_and_pool_differences():
    lin = L.Linear(np.array([[2.0, -1.0]]), np.array([0.5]))
    graph = L.Graph.chain([L.Flatten(), lin, L.ReLU()], (1, 1, 2))
    x = torch.tensor([[[[1.0, -3.0]]], [[[-4.0, 1.0]]]])
    peaks = {p.what: p for p in ranges.largest(graph, x)}
    assert peaks["input"].value == 4.0 and peaks["input"].image == 1
    # 2 * -4 - 1 + 0.5 = -8.5 on image 1 (5.5 on image 0)
    assert peaks["pre-activation"].value == 8.5 and peaks["pre-activation"].image == 1
    assert peaks["pre-activation"].layer == "Linear(2->1)" and peaks["pre-activation"].index == 1
    pool = ranges.largest(L.Graph.chain([L.MaxPool2d(2)], (1, 2, 2)),
                          torch.tensor([[[[1.0, -5.0], [0.0, 2.0]]]]))
    assert [(p.what, p.value) for p in pool] == [
        ("input", 5.0), ("max-pool difference", 7.0), ("output", 2.0)]


def test_check_names_layer_value_and_limit():
    layers = L.Graph.chain([L.Flatten(), L.Linear(np.array([[10.0]]), np.array([0.0]))],
                           (1, 1, 1))
    x = torch.full((3, 1, 1, 1), 7.0)
    with pytest.raises(ranges.RangeError, match=r"layer 1 Linear\(1->1\) pre-activation "
                       r"reaches 70 \(image 0\), not below mpyc's limit 64") as exc:
        ranges.check(layers, x, 64.0, "mpyc")
    assert exc.value.exit_code == 2 and "\n" not in str(exc.value)
    ok = ranges.check(layers, x, 256.0, "mpyc")
    assert ok["margin_bits"] == pytest.approx(np.log2(256 / 70), abs=1e-3)
    assert ranges.check(layers, x, None) is None


@pytest.mark.parametrize("framework", ["mpyc", "crypten"])
@pytest.mark.parametrize(("model", "images"), [("mlp", 64), ("cnn", 16)])
def test_committed_models_pass_with_a_positive_margin(framework, model, images):
    case = Case(framework, model, images=images, batch=images, parties=3)
    found = _range(case)
    assert found["margin_bits"] > 0 and found["images"] == images
    if framework == "mpyc":
        assert found["limit"] == 64.0 and found["margin_bits"] < 2  # under two bits to spare


def test_backends_without_a_limit_are_not_checked():
    assert _range(Case("plaintext", "mlp", images=8, batch=8)) is None


def test_scaled_model_stops_the_run_before_any_party_starts(tmp_path, monkeypatch):
    trained = models.load_trained

    def scaled(name, dataset, *args, **kwargs):
        model = trained(name, dataset, *args, **kwargs)
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(4)
        return model

    def no_launch(*args, **kwargs):
        raise AssertionError("a party was launched")

    monkeypatch.setattr(models, "load_trained", scaled)
    monkeypatch.setattr(runner, "launch", no_launch)
    case = Case("mpyc", "mlp", images=16, batch=16, parties=3)
    # the first layer that overflows is named (the later ones follow from it)
    with pytest.raises(ranges.RangeError, match=r"layer 1 Linear\(784->28\) pre-activation "
                       r"reaches [\d.]+ \(image \d+\), not below mpyc's limit 64"):
        runner.run_case(case, tmp_path)
    assert not list(tmp_path.glob("**/*.parquet")) and not list(tmp_path.glob("**/*.csv"))
    # the same weights fit CrypTen's wider ring
    assert _range(Case("crypten", "mlp", images=16, batch=16))


def test_the_record_says_what_the_rewrite_changed():
    def record(**options):
        case = Case("crypten", "cnn", images=4, batch=4, options=options)
        return workloads.of(case, get("crypten")).model_record()

    assert record()["layer_rewrites"] == []
    (note,) = record(rewrite="pool_before_relu")["layer_rewrites"]
    assert note.startswith("nodes 3-4: ReLU, MaxPool2d(2) -> MaxPool2d(2), ReLU")


def test_data_is_the_runs_images():
    x, _ = data.load("mnist", "test", limit=4)
    assert x.shape == (4, 1, 28, 28)
