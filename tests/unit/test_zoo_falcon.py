"""Falcon's published MNIST networks: the committed weights are Falcon's, converted to take
our normalised images, and give Falcon's published outputs on Falcon's inputs."""

from __future__ import annotations

import gzip
import shutil

import pytest
import torch
from torch import nn

from mpcbench import data, models
from mpcbench.models import falcon
from mpcbench.models.train import accuracy

#: Falcon's outputs are float32 PyTorch outputs (numpy.savetxt text, not fixed point);
#: ours differ by float32 rounding in another summation order and in the folded first
#: layer: about 1e-5 on logits up to 30. A wrong layout or scaling is off by units.
ATOL = 1e-4


@pytest.mark.parametrize("name", falcon.NETWORKS)
def test_committed_weights_reproduce_the_published_outputs(name):
    images, published = falcon.reference(name)
    assert images.shape == (128, 1, 28, 28) and published.shape == (128, 10)
    with torch.no_grad():
        out = models.load_trained(name, "mnist")(images)
    if name == "minionn":  # published after Falcon's final ReLU, which ours leaves out
        out = out.relu()
    assert (out - published).abs().max().item() < ATOL
    assert torch.equal(out.argmax(1), published.argmax(1))


@pytest.mark.parametrize("name", falcon.NETWORKS)
def test_committed_weights_are_the_conversion_of_the_vendored_files(name):
    converted = falcon.convert(name).state_dict()
    committed = models.load_trained(name, "mnist").state_dict()
    assert converted.keys() == committed.keys()
    assert all(torch.equal(converted[k], committed[k]) for k in converted)


@pytest.mark.parametrize(("name", "least"), [
    ("secureml", 0.96), ("sarda", 0.97), ("minionn", 0.96), ("lenet", 0.98),
])
def test_recorded_accuracy_is_what_the_weights_score(name, least):
    """Recomputed on the first 500 test images; the manifest's is on all 10 000."""
    x, y = data.load("mnist", "test", limit=500)
    measured = accuracy(models.load_trained(name, "mnist"), x, y)
    recorded = models.weights_info(name, "mnist").test_accuracy
    assert measured >= least and recorded >= least
    assert abs(recorded - measured) < 0.03


def test_falcon_weights_record_their_source():
    manifest = models.read_manifest()
    for name, (folder, _) in falcon.NETWORKS.items():
        assert "hmmpc-public@c271a732" in manifest[f"{name}-mnist.pt"]["source"]
        assert f"Inference/{folder}" in manifest[f"{name}-mnist.pt"]["source"]


def test_folding_the_normalisation_is_exact_without_padding():
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 4, 5)
    folded = nn.Conv2d(1, 4, 5)
    folded.load_state_dict(conv.state_dict())
    falcon.fold_normalisation(folded, 0.1307, 0.3081)
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(folded((x - 0.1307) / 0.3081), conv(x), atol=1e-5)
        assert not torch.allclose(folded(x), conv(x), atol=1e-2)


def test_a_changed_vendored_file_is_refused(tmp_path, monkeypatch):
    shutil.copytree(falcon.ZOO_DIR, tmp_path / "falcon")
    path = tmp_path / "falcon" / "sarda" / "bias1.gz"
    text = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(text.replace(b"e-03", b"e-02", 1)))
    monkeypatch.setattr(falcon, "ZOO_DIR", tmp_path / "falcon")
    with pytest.raises(models.ModelError, match=r"sarda/bias1\.gz does not match"):
        falcon.read_array("sarda", "bias1")
