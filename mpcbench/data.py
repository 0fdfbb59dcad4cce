"""The datasets a case names: vendored MNIST / Fashion-MNIST (checksum-verified IDX
loading, no network access) and ``synthetic``, seeded random images of any shape with
random labels (for models whose real dataset is not vendored: their cost, and their
agreement with plaintext, are measured; their accuracy is not)."""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError

if TYPE_CHECKING:
    import torch

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

#: vendored dataset id -> folder below ``data/``
VENDORED = {"mnist": "mnist", "fashion": "fashion-mnist"}
#: the shape of a vendored image (channels, height, width)
VENDORED_SHAPE = (1, 28, 28)
#: the dataset of seeded random images and labels
SYNTHETIC = "synthetic"
#: every dataset a case can name
DATASETS = (*VENDORED, SYNTHETIC)
#: images of the synthetic test split (as many as a vendored one); it has no training split
SYNTHETIC_IMAGES = 10_000
#: seed of the synthetic images and labels: every party and the plaintext reference see
#: the same ones
SYNTHETIC_SEED = 0

#: (mean, std) of the training pixels in [0, 1]; used to normalise inputs.
NORMALISATION = {"mnist": (0.1307, 0.3081), "fashion": (0.2860, 0.3530)}

_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


class DataError(InputError):
    """A dataset file is missing, corrupt or unknown."""


def _expected_md5(data_dir: Path) -> dict[str, str]:
    sums = data_dir / "MD5SUMS"
    if not sums.exists():
        raise DataError(f"checksum list {sums} is missing")
    out = {}
    for line in sums.read_text().splitlines():
        digest, name = line.split()
        out[name] = digest
    return out


def _read_verified(path: Path, data_dir: Path) -> bytes:
    rel = path.relative_to(data_dir).as_posix()
    if not path.exists():
        raise DataError(f"dataset file {path} is missing")
    raw = path.read_bytes()
    want = _expected_md5(data_dir).get(rel)
    got = hashlib.md5(raw).hexdigest()
    if want is None:
        raise DataError(f"dataset file {rel} has no entry in {data_dir / 'MD5SUMS'}")
    if got != want:
        raise DataError(f"dataset file {path} is corrupt (md5 {got}, expected {want})")
    return gzip.decompress(raw)


def _parse_idx(buf: bytes, magic: int) -> np.ndarray:
    got = int.from_bytes(buf[:4], "big")
    if got != magic:
        raise DataError(f"bad IDX magic {got:#x}, expected {magic:#x}")
    ndim = magic & 0xFF
    dims = [int.from_bytes(buf[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(buf, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


@lru_cache(maxsize=8)
def load_raw(dataset: str, split: str, data_dir: Path = DATA_DIR) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images uint8 [N,28,28], labels uint8 [N])`` of a vendored dataset split."""
    if dataset not in VENDORED:
        raise DataError(f"unknown dataset {dataset!r}; choose one of {', '.join(VENDORED)}")
    _check_split(split)
    folder = data_dir / VENDORED[dataset]
    img_name, lbl_name = _SPLIT_FILES[split]
    images = _parse_idx(_read_verified(folder / img_name, data_dir), 0x803)
    labels = _parse_idx(_read_verified(folder / lbl_name, data_dir), 0x801)
    return images, labels


def _check_split(split: str) -> None:
    if split not in _SPLIT_FILES:
        raise DataError(f"unknown split {split!r}; choose train or test")


def has_true_labels(dataset: str) -> bool:
    """Whether ``dataset``'s labels are the images' classes, so accuracy on it means
    something (the synthetic labels are random)."""
    return dataset != SYNTHETIC


def _synthetic_size(split: str) -> int:
    """Images of a synthetic split; :class:`DataError` for its (missing) training split."""
    _check_split(split)
    if split == "train":
        raise DataError(f"{SYNTHETIC} has no training split: its labels are random, there "
                        f"is nothing to learn (its models have seeded weights)")
    return SYNTHETIC_IMAGES


def check_shape(dataset: str, shape: tuple[int, ...]) -> None:
    """Raise :class:`DataError` unless ``dataset`` has images of ``shape``: the synthetic
    dataset has any, a vendored one :data:`VENDORED_SHAPE`."""
    if dataset != SYNTHETIC and tuple(shape) != VENDORED_SHAPE:
        raise DataError(f"{dataset} images are {'x'.join(map(str, VENDORED_SHAPE))}, not "
                        f"{'x'.join(map(str, shape))} (use a model of that input, or the "
                        f"{SYNTHETIC} dataset)")


def check_available(dataset: str, split: str, count: int, data_dir: Path = DATA_DIR) -> None:
    """Raise :class:`DataError` unless ``count`` verified examples of the split exist."""
    have = (_synthetic_size(split) if dataset == SYNTHETIC
            else len(load_raw(dataset, split, Path(data_dir))[1]))
    if count > have:
        raise DataError(f"{dataset}/{split} has {have} images, {count} requested")


def _synthetic(split: str, limit: int | None,
               shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The first ``limit`` synthetic images (standard normal, as normalised images are)
    and labels (uniform in 0..9), drawn in order from :data:`SYNTHETIC_SEED`: a shorter
    load is a prefix of a longer one."""
    count = _synthetic_size(split) if limit is None else limit
    check_available(SYNTHETIC, split, count)
    images, labels = (np.random.default_rng([SYNTHETIC_SEED, stream]) for stream in (0, 1))
    x = images.standard_normal((count, *shape), dtype=np.float32)
    return x, labels.integers(0, 10, count)


def arrays(
    dataset: str, split: str = "test", limit: int | None = None, data_dir: Path = DATA_DIR,
    shape: tuple[int, ...] = VENDORED_SHAPE,
) -> tuple[np.ndarray, np.ndarray]:
    """Return normalised float32 images ``[N, *shape]`` and int64 labels ``[N]`` as numpy
    arrays (what a party without torch reads; :func:`load` gives torch tensors).

    ``limit`` keeps the first ``limit`` examples (deterministic, so every party and
    the plaintext reference see the same images). The synthetic images take any
    ``shape``; a vendored dataset's are :data:`VENDORED_SHAPE` (:class:`DataError` for
    another).
    """
    if dataset == SYNTHETIC:
        return _synthetic(split, limit, tuple(shape))
    check_shape(dataset, shape)
    images, labels = load_raw(dataset, split, Path(data_dir))
    if limit is not None:
        check_available(dataset, split, limit, data_dir)
        images, labels = images[:limit], labels[:limit]
    mean, std = NORMALISATION[dataset]
    x = (images.astype(np.float32) / np.float32(255.0) - np.float32(mean)) / np.float32(std)
    return x[:, None], labels.astype(np.int64)


def load(
    dataset: str, split: str = "test", limit: int | None = None, data_dir: Path = DATA_DIR,
    shape: tuple[int, ...] = VENDORED_SHAPE,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The images and labels of :func:`arrays` as torch tensors."""
    import torch

    x, labels = arrays(dataset, split, limit, data_dir, shape)
    return torch.from_numpy(x), torch.from_numpy(labels)
