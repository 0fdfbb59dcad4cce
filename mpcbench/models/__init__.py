"""The shared models every secure framework runs (one module per model) and their trained
weights; the layer graph (:mod:`.layers`) every backend evaluates, imported from the
torch module (:mod:`.importer`), and plaintext training (:mod:`.train`). The package
imports no torch: a party that does not compute with it reads the layer graph exported
by a child process (:mod:`.exported`).

A model module defines ``build() -> nn.Module`` and ``DEFAULT_BATCH``, and may define
``INPUT_SHAPE`` (the shape of one image; default :data:`INPUT_SHAPE`); it is found by
convention, so adding a model is adding one file. (Baselines keep their own models in
their packages and use the weights functions here.) Trained weights live in
``data/weights`` with a manifest that records their SHA-256 and plaintext test accuracy;
the weights of the synthetic dataset are seeded, not trained (:func:`seeded`).

A case names its model by a reference: a shared model's name, or a user's own network
(an ONNX file, or a torch module's factory with its weights); :func:`graph`,
:func:`structure`, :func:`input_shape`, :func:`default_batch` and :func:`weights_info`
answer for any reference through its source (:mod:`.sources`).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import pkgutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ..data import DATA_DIR, SYNTHETIC, VENDORED_SHAPE
from ..errors import InputError
from . import layers as L

if TYPE_CHECKING:  # torch is imported where a model is built or loaded, not with the package
    from torch import nn

    from .sources import Source

WEIGHTS_DIR = DATA_DIR / "weights"
#: the shape of one image of a model whose module does not say (the vendored images')
INPUT_SHAPE = VENDORED_SHAPE
#: seed of the weights of every model on the synthetic dataset
WEIGHTS_SEED = 0


class ModelError(InputError):
    """Unknown model, or missing / corrupt weights."""


@cache
def _modules() -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "build") and hasattr(mod, "DEFAULT_BATCH"):
            found[info.name] = mod
    return found


def names() -> list[str]:
    """Names of all registered models."""
    return sorted(_modules())


def module(name: str) -> ModuleType:
    """The module defining model ``name``; :class:`ModelError` if unknown."""
    mods = _modules()
    if name not in mods:
        raise ModelError(f"unknown model {name!r}; choose one of {', '.join(sorted(mods))}")
    return mods[name]


def build(name: str) -> nn.Module:
    """A fresh (untrained) instance of model ``name``."""
    return module(name).build()


def source(reference: str) -> Source:
    """Where the model a case names comes from (:mod:`.sources`): a shared model's name,
    an ONNX file or a factory with its weights."""
    from .sources import of

    return of(reference)


def default_batch(reference: str) -> int:
    """The batch size a run uses for model ``reference`` unless told otherwise."""
    return source(reference).default_batch()


def input_shape(reference: str) -> tuple[int, ...]:
    """The shape of one input image of model ``reference`` (channels, height, width)."""
    return source(reference).input_shape()


@dataclass(frozen=True)
class WeightsInfo:
    """Where a model's weights are, their checksum and what they scored."""

    #: the file of trained weights (``None``: seeded weights, see :func:`seeded`)
    path: Path | None
    sha256: str
    test_accuracy: float | None


def weights_path(name: str, dataset: str, weights_dir: Path = WEIGHTS_DIR) -> Path:
    """File holding the trained ``state_dict`` of ``name`` on ``dataset``."""
    return Path(weights_dir) / f"{name}-{dataset}.pt"


def _manifest_path(weights_dir: Path) -> Path:
    return Path(weights_dir) / "MANIFEST.json"


def read_manifest(weights_dir: Path = WEIGHTS_DIR) -> dict[str, dict]:
    """The weights manifest: file name -> ``{sha256, test_accuracy, ...}``."""
    path = _manifest_path(weights_dir)
    return json.loads(path.read_text()) if path.exists() else {}


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_weights(
    model: nn.Module, name: str, dataset: str, meta: dict, weights_dir: Path = WEIGHTS_DIR
) -> WeightsInfo:
    """Save ``model``'s weights and record their checksum and ``meta`` in the manifest."""
    path = weights_path(name, dataset, weights_dir)
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(model.state_dict(), tmp)
    tmp.replace(path)
    digest = sha256_file(path)
    manifest = read_manifest(weights_dir)
    manifest[path.name] = {"sha256": digest, **meta}
    mtmp = _manifest_path(weights_dir).with_suffix(".tmp")
    mtmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    mtmp.replace(_manifest_path(weights_dir))
    return WeightsInfo(path, digest, meta.get("test_accuracy"))


def seeded(name: str, seed: int = WEIGHTS_SEED) -> nn.Module:
    """Model ``name`` with torch's default initialisation under ``seed``, in eval mode:
    its weights on the synthetic dataset, whose random labels leave nothing to learn
    (the global random state is left as it was)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(name).eval()


def state_sha256(model: nn.Module) -> str:
    """Hex SHA-256 of ``model``'s parameters and buffers: each entry's name, dtype, shape
    and raw bytes in state-dict order (a pickle's bytes could change with the pickler)."""
    digest = hashlib.sha256()
    for key, value in model.state_dict().items():
        digest.update(f"{key}:{value.dtype}:{tuple(value.shape)};".encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def weights_info(reference: str, dataset: str, weights_dir: Path = WEIGHTS_DIR
                 ) -> WeightsInfo:
    """Checked location of the weights of model ``reference`` (trained, for a shared
    model, or a baseline's name, on ``dataset``) and their checksum; :class:`ModelError`
    if missing or corrupt. A shared model on the synthetic dataset: the seeded weights'
    checksum, with no file and no accuracy."""
    return source(reference).weights(dataset, weights_dir)


def load_weights(model: nn.Module, name: str, dataset: str,
                 weights_dir: Path = WEIGHTS_DIR) -> nn.Module:
    """``model`` with the trained weights saved as ``name`` for ``dataset``, in eval mode."""
    import torch

    info = weights_info(name, dataset, weights_dir)
    model.load_state_dict(torch.load(info.path, map_location="cpu", weights_only=True))
    return model.eval()


def load_trained(name: str, dataset: str, weights_dir: Path = WEIGHTS_DIR) -> nn.Module:
    """Shared model ``name`` with its trained weights for ``dataset`` (its seeded weights
    on the synthetic dataset), in eval mode."""
    if dataset == SYNTHETIC:
        return seeded(name)
    return load_weights(build(name), name, dataset, weights_dir)


def graph(reference: str, dataset: str, weights_dir: Path = WEIGHTS_DIR) -> L.Graph:
    """The layer graph of model ``reference`` with its weights (a shared model's trained
    weights for ``dataset``)."""
    return source(reference).graph(dataset, weights_dir)


def structure(reference: str) -> L.Graph:
    """The layer graph of model ``reference`` with zero parameters (of a shared model:
    from its code alone, no weights file is read)."""
    return source(reference).structure()
