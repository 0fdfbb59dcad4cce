"""The CIFAR-10-shaped models (alexnet, vgg16, resnet18) on the synthetic dataset: their
shapes, the dataset's determinism, the seeded weights and their checksum, and the
accuracy a run of random labels does not claim."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from mpcbench import data, models, parties
from mpcbench.case import Case
from mpcbench.cli import app
from mpcbench.launch import checks, workloads
from mpcbench.parties.base import Kind, Unsupported

ZOO = {"alexnet": (3, 33, 33), "vgg16": (3, 32, 32), "resnet18": (3, 32, 32)}


@pytest.mark.parametrize(("name", "shape"), ZOO.items())
def test_models_classify_synthetic_images_of_their_shape(name, shape):
    assert models.input_shape(name) == shape and models.default_batch(name) == 1
    x, y = data.load(data.SYNTHETIC, "test", limit=3, shape=shape)
    assert x.shape == (3, *shape) and y.shape == (3,)
    with torch.no_grad():
        logits = models.load_trained(name, data.SYNTHETIC)(x)
    assert logits.shape == (3, 10) and torch.isfinite(logits).all()


def test_the_vendored_models_keep_the_vendored_shape():
    assert {models.input_shape(m) for m in ("mlp", "bnn", "cnn")} == {data.VENDORED_SHAPE}


def test_synthetic_images_are_the_same_every_time_and_a_prefix_of_more():
    x, y = data.load(data.SYNTHETIC, "test", limit=5, shape=(3, 32, 32))
    again, labels = data.load(data.SYNTHETIC, "test", limit=5, shape=(3, 32, 32))
    assert torch.equal(x, again) and torch.equal(y, labels)
    more, more_labels = data.load(data.SYNTHETIC, "test", limit=40, shape=(3, 32, 32))
    assert torch.equal(more[:5], x) and torch.equal(more_labels[:5], y)
    assert set(more_labels.tolist()) <= set(range(10)) and len(set(more_labels.tolist())) > 1
    assert abs(float(more.mean())) < 0.05 and abs(float(more.std()) - 1) < 0.05
    assert x.dtype == torch.float32 and y.dtype == torch.int64


def test_synthetic_has_no_training_split_and_a_test_split_of_its_size():
    with pytest.raises(data.DataError, match=r"no training split.*nothing to learn"):
        data.load(data.SYNTHETIC, "train", limit=4)
    data.check_available(data.SYNTHETIC, "test", data.SYNTHETIC_IMAGES)
    with pytest.raises(data.DataError, match="10000 images, 10001 requested"):
        data.check_available(data.SYNTHETIC, "test", data.SYNTHETIC_IMAGES + 1)


def test_mnist_refuses_another_shape():
    with pytest.raises(data.DataError, match="mnist images are 1x28x28, not 3x32x32"):
        data.load("mnist", "test", limit=4, shape=(3, 32, 32))
    assert data.load("mnist", "test", limit=4, shape=(1, 28, 28))[0].shape == (4, 1, 28, 28)


def test_a_model_on_images_of_another_shape_is_refused_before_its_run():
    with pytest.raises(data.DataError, match="fashion images are 1x28x28, not 3x33x33"):
        checks.check(Case("plaintext", "alexnet", dataset="fashion", parties=1, images=2,
                          batch=1))
    checks.check(Case("plaintext", "alexnet", dataset=data.SYNTHETIC, parties=1, images=2,
                      batch=1))


@pytest.mark.parametrize("baseline", sorted(
    name for name, kind in parties.kinds().items() if kind == Kind.BASELINE))
def test_baselines_refuse_the_synthetic_dataset(baseline):
    backend = parties.get(baseline)
    with pytest.raises(Unsupported, match=f"{baseline} runs on mnist or fashion, not synthetic"):
        checks.validate(Case(baseline, backend.model_module.NAME, dataset=data.SYNTHETIC,
                             parties=1), backend)


@pytest.mark.parametrize("name", ["alexnet", "resnet18"])
def test_seeded_weights_have_a_stable_checksum_that_changes_with_the_seed(name):
    info = models.weights_info(name, data.SYNTHETIC)
    assert info.path is None and info.test_accuracy is None
    assert models.weights_info(name, data.SYNTHETIC) == info
    loaded = models.load_trained(name, data.SYNTHETIC)
    assert not loaded.training
    assert models.state_sha256(loaded) == info.sha256  # rebuilt, not remembered
    assert models.state_sha256(models.seeded(name, seed=1)) != info.sha256


def test_seeding_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    models.seeded("alexnet")
    assert torch.equal(torch.rand(3), expected)


def test_training_on_synthetic_is_refused():
    result = CliRunner().invoke(app, ["train", "--model", "cnn", "--dataset", "synthetic"])
    assert result.exit_code == 2
    assert "nothing to learn" in result.output
    assert not (models.WEIGHTS_DIR / "cnn-synthetic.pt").exists()


def _score(dataset: str, images: int = 8) -> dict[str, float]:
    """The run-level values of a plaintext inference run of cnn whose logits are the
    model's own (every image)."""
    case = Case("plaintext", "cnn", dataset=dataset, parties=1, images=images,
                batch=images)
    x, _ = data.load(dataset, "test", limit=images)
    with torch.no_grad():
        logits = models.load_trained("cnn", dataset)(x).double().numpy()
    per_rank = pd.DataFrame([{"rank": 0, "repeat": 0, "is_warmup": False,
                              "phase": "total", "metric": "wall_s", "value": 2.0}])
    rows = workloads.of(case, parties.get("plaintext")).score(per_rank, logits, [], 1)
    return {r["metric"]: r["value"] for r in rows}


def test_accuracy_on_random_labels_is_missing_and_agreement_measured():
    synthetic = _score(data.SYNTHETIC)
    assert math.isnan(synthetic["accuracy"]) and math.isnan(synthetic["plain_accuracy"])
    assert synthetic["agreement"] == 1.0 and synthetic["max_abs_err"] < 1e-5
    mnist = _score("mnist")
    assert not np.isnan([mnist["accuracy"], mnist["plain_accuracy"]]).any()
    assert mnist["agreement"] == 1.0
