import shutil

import pytest
import torch

from mpcbench import data


def test_test_split_shapes_and_normalisation():
    x, y = data.load("mnist", "test", limit=256)
    assert x.shape == (256, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (256,) and set(y.tolist()) <= set(range(10))
    assert abs(float(x.mean())) < 0.2  # normalised with the training mean/std
    assert y[:5].tolist() == [7, 2, 1, 0, 4]  # the first MNIST test labels


def test_fashion_has_all_splits():
    for split, n in (("train", 60000), ("test", 10000)):
        images, labels = data.load_raw("fashion", split)
        assert images.shape == (n, 28, 28) and labels.shape == (n,)


@pytest.fixture
def data_copy(tmp_path):
    dst = tmp_path / "data"
    shutil.copytree(data.DATA_DIR / "mnist", dst / "mnist")
    shutil.copy(data.DATA_DIR / "MD5SUMS", dst / "MD5SUMS")
    data.load_raw.cache_clear()
    yield dst
    data.load_raw.cache_clear()


def test_corrupt_file_is_named(data_copy):
    f = data_copy / "mnist" / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(f.read_bytes())
    raw[100] ^= 0xFF
    f.write_bytes(bytes(raw))
    with pytest.raises(data.DataError, match=r"t10k-labels-idx1-ubyte.gz is corrupt"):
        data.load("mnist", "test", data_dir=data_copy)


def test_missing_file_is_named(data_copy):
    (data_copy / "mnist" / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(data.DataError, match=r"t10k-images-idx3-ubyte.gz is missing"):
        data.load("mnist", "test", data_dir=data_copy)


def test_unknown_dataset():
    with pytest.raises(data.DataError, match="unknown dataset 'cifar'"):
        data.load("cifar")
