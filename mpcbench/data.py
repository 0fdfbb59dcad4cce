"""Vendored MNIST / Fashion-MNIST: checksum-verified IDX loading, no network access."""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .errors import InputError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

#: dataset id -> folder below ``data/``
DATASETS = {"mnist": "mnist", "fashion": "fashion-mnist"}

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
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if split not in _SPLIT_FILES:
        raise DataError(f"unknown split {split!r}; choose train or test")
    folder = data_dir / DATASETS[dataset]
    img_name, lbl_name = _SPLIT_FILES[split]
    images = _parse_idx(_read_verified(folder / img_name, data_dir), 0x803)
    labels = _parse_idx(_read_verified(folder / lbl_name, data_dir), 0x801)
    return images, labels


def check_available(dataset: str, split: str, count: int, data_dir: Path = DATA_DIR) -> None:
    """Raise :class:`DataError` unless ``count`` verified examples of the split exist."""
    have = len(load_raw(dataset, split, Path(data_dir))[1])
    if count > have:
        raise DataError(f"{dataset}/{split} has {have} images, {count} requested")


def load(
    dataset: str, split: str = "test", limit: int | None = None, data_dir: Path = DATA_DIR
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return normalised float images ``[N,1,28,28]`` and int64 labels ``[N]``.

    ``limit`` keeps the first ``limit`` examples (deterministic, so every party and
    the plaintext reference see the same images).
    """
    images, labels = load_raw(dataset, split, Path(data_dir))
    if limit is not None:
        check_available(dataset, split, limit, data_dir)
        images, labels = images[:limit], labels[:limit]
    mean, std = NORMALISATION[dataset]
    x = (torch.from_numpy(images.astype(np.float32)) / 255.0 - mean) / std
    return x.unsqueeze(1), torch.from_numpy(labels.astype(np.int64))
