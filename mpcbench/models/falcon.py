"""Falcon's published MNIST weights (``data/zoo/falcon``) as weights of our models.

Falcon (Wagh et al., PoPETs 2021) benchmarks SecureML, Sarda, MiniONN and LeNet with
weights trained in PyTorch on MNIST images in [0, 1] (``transforms.ToTensor()``, no
normalisation). The vendored files (see ``data/zoo/falcon/README.md``) are those
weights as ``numpy.savetxt`` text, one file per tensor, named ``weight<i>`` and
``bias<i>`` for the i-th layer with parameters. Each file holds the PyTorch tensor's
values in memory order: fully connected weights as ``[out, in]``, convolution weights
``[out, in, kh, kw]`` reshaped (not transposed) to ``[kh*kw*in, out]`` rows. So the
values, read flat and reshaped to our parameter's shape, are the trained tensor.

Our images are normalised, ``(x - mean) / std``; Falcon's are not. :func:`convert`
folds the scaling into the first layer, ``W' = std * W`` and ``b' = b + mean * sum(W)``
(summed over each output's inputs), so the converted model gives on our images what
Falcon's gives on its own. This is exact because no first layer of these networks pads
its input (every output sees real pixels only).

Falcon's layer lists end with a ReLU on the 10 outputs for SecureML, MiniONN and LeNet;
our models end with the logits. The ReLU turns every image whose logits are all negative
into a ten-way tie at 0, whose prediction then depends on how each framework breaks ties:
989 of the 10 000 MNIST test images for MiniONN's weights (accuracy 0.888 with the ReLU
and torch's first-index argmax, 0.970 without), none for SecureML's. Leaving it out saves
10 ReLUs per image.

``python -m mpcbench.models.falcon`` converts every network and saves its weights with
the test accuracy measured on the 10 000 MNIST test images.
"""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import torch
from torch import nn

from .. import data, models
from .train import accuracy

ZOO_DIR = data.DATA_DIR / "zoo" / "falcon"
#: our model name -> (the network's folder in the source repository, the file of the
#: plaintext outputs published for its 128 input images: the last layer's, MiniONN's
#: after its final ReLU)
NETWORKS = {"secureml": ("SecureML", "outputlayer3"), "sarda": ("Sarda", "outputlayer3"),
            "minionn": ("MiniONN", "outputlayer4")}
DATASET = "mnist"
#: where the vendored files come from (repository, commit, folder)
SOURCE = ("github.com/f7ed/hmmpc-public@c271a732efa25bcb0f9f82a722801b39b2d75ef1 "
          "Inference/{folder} (Falcon's weights: files/preload of snwagh/falcon-public)")


def _checksums() -> dict[str, str]:
    lines = (ZOO_DIR / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split() for line in lines)}


def read_array(name: str, file: str) -> np.ndarray:
    """The values of the vendored text file ``file`` of network ``name``, checked
    against ``SHA256SUMS`` (rows as written; one value per line gives a 1-d array)."""
    rel = f"{name}/{file}.gz"
    path = ZOO_DIR / rel
    if not path.exists():
        raise models.ModelError(f"vendored file {path} is missing")
    text = gzip.decompress(path.read_bytes())
    if hashlib.sha256(text).hexdigest() != _checksums().get(rel):
        raise models.ModelError(f"vendored file {path} does not match {ZOO_DIR / 'SHA256SUMS'}")
    return np.loadtxt(text.decode().splitlines(), dtype=np.float32)


def _parametrised(model: nn.Module) -> list[nn.Conv2d | nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def fold_normalisation(layer: nn.Conv2d | nn.Linear, mean: float, std: float) -> None:
    """Make ``layer`` take ``(x - mean) / std`` where it took ``x`` (exact without padding)."""
    with torch.no_grad():
        inputs_sum = layer.weight.flatten(1).sum(1)
        layer.bias += mean * inputs_sum
        layer.weight *= std


def convert(name: str) -> nn.Module:
    """Model ``name`` with Falcon's weights, taking our normalised MNIST images."""
    model = models.build(name)
    for i, layer in enumerate(_parametrised(model), start=1):
        for param, file in ((layer.weight, f"weight{i}"), (layer.bias, f"bias{i}")):
            values = torch.from_numpy(read_array(name, file))
            if values.numel() != param.numel():
                raise models.ModelError(f"{name}/{file} holds {values.numel()} values, "
                                 f"{tuple(param.shape)} needs {param.numel()}")
            param.data = values.reshape(param.shape).contiguous()
    fold_normalisation(_parametrised(model)[0], *data.NORMALISATION[DATASET])
    return model.eval()


def reference(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Falcon's 128 input images, normalised as ours (``[128, 1, 28, 28]``), and the
    plaintext outputs its repository publishes for them (``[128, 10]``)."""
    mean, std = data.NORMALISATION[DATASET]
    images = torch.from_numpy(read_array(name, "input")).reshape(-1, 1, 28, 28)
    return (images - mean) / std, torch.from_numpy(read_array(name, NETWORKS[name][1]))


def import_weights(name: str) -> models.WeightsInfo:
    """Convert network ``name`` and save its weights with their MNIST test accuracy."""
    model = convert(name)
    x, y = data.load(DATASET, "test")
    meta = {"source": SOURCE.format(folder=NETWORKS[name][0]),
            "test_accuracy": accuracy(model, x, y)}
    return models.save_weights(model, name, DATASET, meta)


def main() -> None:
    """Import every network and print where its weights went and what they score."""
    for name in NETWORKS:
        info = import_weights(name)
        print(f"{name}: test accuracy {info.test_accuracy:.4f}, {info.path} ({info.sha256[:12]})")


if __name__ == "__main__":
    main()
