import shutil

import pytest

from mpcbench import data, models
from mpcbench.models.train import accuracy


def test_registry_lists_shared_models():
    assert {"mlp", "bnn", "cnn"} <= set(models.names())


def test_unknown_model():
    with pytest.raises(models.ModelError, match="unknown model 'resnet'"):
        models.build("resnet")


def test_shapes():
    mlp = models.build("mlp")
    widths = [m.out_features for m in mlp if hasattr(m, "out_features")]
    assert widths == [28, 28, 28, 28, 10]
    cnn = models.build("cnn")
    assert cnn[7].in_features == 9216 and cnn[7].out_features == 128


#: test images the committed weights are evaluated on (the first of the test set)
SLICE = 2000


@pytest.mark.parametrize(("name", "dataset", "least"), [
    ("cnn", "mnist", 0.975), ("mlp", "mnist", 0.93), ("bnn", "mnist", 0.92),
    ("cnn", "fashion", 0.89), ("mlp", "fashion", 0.86),
])
def test_committed_weights_reach_expected_accuracy(name, dataset, least):
    """Evaluated here on a slice of the test set (the manifest's figure is only a claim)."""
    x, y = data.load(dataset, "test", limit=SLICE)
    measured = accuracy(models.load_trained(name, dataset), x, y)
    assert measured >= least
    # ... and the manifest's full-test-set figure is consistent with it
    assert abs(models.weights_info(name, dataset).test_accuracy - measured) < 0.03


def test_missing_weights_say_how_to_train(tmp_path):
    with pytest.raises(models.ModelError, match="mpcbench train --model cnn --dataset mnist"):
        models.weights_info("cnn", "mnist", weights_dir=tmp_path)


def test_tampered_weights_are_refused(tmp_path):
    for f in ("mlp-mnist.pt", "MANIFEST.json"):
        shutil.copy(models.WEIGHTS_DIR / f, tmp_path / f)
    with (tmp_path / "mlp-mnist.pt").open("ab") as fh:
        fh.write(b"x")
    with pytest.raises(models.ModelError, match="do not match their checksum"):
        models.load_trained("mlp", "mnist", weights_dir=tmp_path)
