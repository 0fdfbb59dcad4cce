"""Where a case's model comes from, by its reference (:attr:`mpcbench.case.Case.model`):

- a shared model's name (``cnn``): its module in :mod:`mpcbench.models`, its trained
  weights (seeded on the synthetic dataset) — :class:`Shared`;
- a path ending in ``.onnx``: a user's ONNX file, its initialisers the weights
  (:mod:`.onnx`) — :class:`OnnxFile`;
- ``package.module:factory@/path/weights.pt``: the torch module ``factory()`` returns
  with the state dict of the weights file (:mod:`.importer`) — :class:`Factory`; the
  module is imported from the current directory or ``PYTHONPATH`` and may set
  ``INPUT_SHAPE`` (default: the vendored images', ``(1, 28, 28)``) and
  ``DEFAULT_BATCH`` (default 1).

Every question about a case's model (its layer graph, its structure, the shape of one
image, its default batch, the checksum of its weights) is asked of the :class:`Source`
of its reference (:func:`of`), so shared and user models take one path. A user's model
runs inference only (:attr:`Source.shared` is false).
"""

from __future__ import annotations

import abc
import hashlib
import importlib
import importlib.util
import os
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, ClassVar

from .. import models
from ..data import SYNTHETIC
from . import layers as L

if TYPE_CHECKING:  # torch is imported where a model is built, not with the module
    from torch import nn

#: the default batch of a user's model whose models.module does not say
USER_BATCH = 1


class Source(abc.ABC):
    """A model as a case names it: everything a run asks of it."""

    #: whether it is one of the shared models (else a user's: inference only)
    shared: ClassVar[bool] = False

    def __init__(self, reference: str) -> None:
        self.reference = reference

    @abc.abstractmethod
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input image (channels, height, width)."""

    @abc.abstractmethod
    def default_batch(self) -> int:
        """The batch a run uses unless told otherwise."""

    @abc.abstractmethod
    def weights(self, dataset: str, weights_dir: Path) -> models.WeightsInfo:
        """Where the weights are and their checksum; :class:`models.ModelError` if missing."""

    @abc.abstractmethod
    def graph(self, dataset: str, weights_dir: Path) -> L.Graph:
        """The layer graph with its weights (for ``dataset``, a shared model's)."""

    def structure(self) -> L.Graph:
        """The layer graph with zero parameters."""
        return L.blank(self.graph(SYNTHETIC, models.WEIGHTS_DIR))

    @abc.abstractmethod
    def made_from(self, dataset: str | None) -> dict[str, str]:
        """SHA-256 of every file besides mpcbench's code that the layer graph (with the
        weights for ``dataset``; ``None``: its structure) is made from, ``what -> hash``,
        found without importing torch (:mod:`.exported` keys its cache by them)."""


class Shared(Source):
    """One of the shared models (:func:`mpcbench.models.names`), by name."""

    shared = True

    def input_shape(self) -> tuple[int, ...]:
        return tuple(getattr(models.module(self.reference), "INPUT_SHAPE", models.INPUT_SHAPE))

    def default_batch(self) -> int:
        return int(models.module(self.reference).DEFAULT_BATCH)

    def weights(self, dataset: str, weights_dir: Path) -> models.WeightsInfo:
        """Checked trained weights (also of a baseline's name), their checksum in the
        manifest; on the synthetic dataset the models.seeded weights' checksum, with no file
        and no accuracy."""
        name = self.reference
        if dataset == SYNTHETIC:
            return models.WeightsInfo(None, _seeded_sha256(name), None)
        path = models.weights_path(name, dataset, weights_dir)
        if not path.exists():
            raise models.ModelError(
                f"no trained weights for {name} on {dataset} ({path}); "
                f"run: mpcbench train --model {name} --dataset {dataset}"
            )
        entry = models.read_manifest(weights_dir).get(path.name, {})
        digest = models.sha256_file(path)
        if entry.get("sha256") not in (None, digest):
            raise models.ModelError(f"weights {path} do not match their checksum in the manifest")
        return models.WeightsInfo(path, digest, entry.get("test_accuracy"))

    def made_from(self, dataset: str | None) -> dict[str, str]:
        """The trained weights (none for the structure or the seeded weights: the
        model's code and torch's initialisation make them)."""
        if dataset in (None, SYNTHETIC):
            return {}
        return {"weights": self.weights(dataset, models.WEIGHTS_DIR).sha256}

    def graph(self, dataset: str, weights_dir: Path) -> L.Graph:
        from .importer import from_torch

        return from_torch(models.load_trained(self.reference, dataset, weights_dir),
                          self.input_shape())

    def structure(self) -> L.Graph:
        """From the model's code alone (no weights file is read)."""
        from .importer import from_torch

        return L.blank(from_torch(models.build(self.reference), self.input_shape()))


@cache
def _seeded_sha256(name: str) -> str:
    return models.state_sha256(models.seeded(name))


class OnnxFile(Source):
    """A user's ONNX file: its weights are its initialisers, its checksum the file's."""

    @property
    def path(self) -> Path:
        return Path(self.reference)

    def input_shape(self) -> tuple[int, ...]:
        return self.graph(SYNTHETIC, models.WEIGHTS_DIR).input_shape

    def default_batch(self) -> int:
        return USER_BATCH

    def weights(self, dataset: str, weights_dir: Path) -> models.WeightsInfo:
        if not self.path.is_file():
            raise models.ModelError(f"no ONNX file {self.path}")
        return models.WeightsInfo(self.path, models.sha256_file(self.path), None)

    def made_from(self, dataset: str | None) -> dict[str, str]:
        return {"onnx": self.weights(SYNTHETIC, models.WEIGHTS_DIR).sha256}

    def graph(self, dataset: str, weights_dir: Path) -> L.Graph:
        from .onnx import from_onnx

        return from_onnx(self.path)


class Factory(Source):
    """A user's torch models.module, ``factory()`` of its models.module, with a file of weights (a
    state dict); its checksum covers the models.module's source file and the weights file."""

    def __init__(self, reference: str) -> None:
        super().__init__(reference)
        target, _, weights = reference.partition("@")
        self.module_name, _, self.factory = target.partition(":")
        if not all(p.isidentifier() for p in (*self.module_name.split("."), self.factory)):
            raise models.ModelError(f"model {reference!r} is no package.module:factory")
        if not weights:
            raise models.ModelError(f"model {target} needs its weights: "
                             f"{target}@/path/to/weights.pt (--weights)")
        self.weights_file = Path(weights)

    def _module(self) -> ModuleType:
        """The factory's models.module, imported from the current directory or ``PYTHONPATH``."""
        _search_cwd()
        try:
            return importlib.import_module(self.module_name)
        except Exception as exc:
            raise models.ModelError(f"cannot import {self.module_name} (model {self.reference}): "
                             f"{_one_line(exc)}") from exc

    def _source_file(self) -> Path:
        """The source file of the factory's module, found without running it."""
        _search_cwd()
        try:
            spec = importlib.util.find_spec(self.module_name)
        except Exception as exc:  # a parent package that is missing or fails
            raise models.ModelError(f"cannot import {self.module_name} (model {self.reference}): "
                             f"{_one_line(exc)}") from exc
        if spec is None or not spec.has_location or spec.origin is None:
            raise models.ModelError(f"cannot import {self.module_name} (model {self.reference}): "
                                    "no such module file")
        return Path(spec.origin)

    def _build(self) -> nn.Module:
        """A fresh models.module from the factory; :class:`models.ModelError` if it fails."""
        made = getattr(self._module(), self.factory, None)
        if not callable(made):
            raise models.ModelError(f"{self.module_name} has no factory {self.factory}")
        try:
            model = made()
        except Exception as exc:
            raise models.ModelError(f"factory {self.module_name}:{self.factory}() failed: "
                             f"{_one_line(exc)}") from exc
        from torch import nn

        if not isinstance(model, nn.Module):
            raise models.ModelError(f"factory {self.module_name}:{self.factory}() returned a "
                             f"{type(model).__name__}, not a torch.nn.Module")
        return model

    def input_shape(self) -> tuple[int, ...]:
        return tuple(getattr(self._module(), "INPUT_SHAPE", models.INPUT_SHAPE))

    def default_batch(self) -> int:
        return int(getattr(self._module(), "DEFAULT_BATCH", USER_BATCH))

    def weights(self, dataset: str, weights_dir: Path) -> models.WeightsInfo:
        """SHA-256 of the hex SHA-256 of the models.module's source file and of the weights
        file, one line each."""
        if not self.weights_file.is_file():
            raise models.ModelError(f"no weights file {self.weights_file} (model {self.reference})")
        source = self._source_file()
        digests = f"{models.sha256_file(source)}\n{models.sha256_file(self.weights_file)}\n"
        return models.WeightsInfo(self.weights_file,
                           hashlib.sha256(digests.encode()).hexdigest(), None)

    def made_from(self, dataset: str | None) -> dict[str, str]:
        if dataset is None:
            return {"module": models.sha256_file(self._source_file())}
        return {"weights": self.weights(dataset, models.WEIGHTS_DIR).sha256}

    def graph(self, dataset: str, weights_dir: Path) -> L.Graph:
        import torch

        from .importer import from_torch

        self.weights(dataset, weights_dir)
        model = self._build()
        try:
            state = torch.load(self.weights_file, map_location="cpu", weights_only=True)
            model.load_state_dict(state, strict=True)
        except Exception as exc:  # unpickling, missing or unexpected keys, shapes
            raise models.ModelError(f"weights {self.weights_file} do not fit "
                             f"{self.module_name}:{self.factory}: {_one_line(exc)}") from exc
        return from_torch(model.eval(), self.input_shape())

    def structure(self) -> L.Graph:
        """From the factory alone (the weights file is not read)."""
        from .importer import from_torch

        return L.blank(from_torch(self._build().eval(), self.input_shape()))


def _search_cwd() -> None:
    """Let a user's module be imported from the current directory."""
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())


def _one_line(exc: Exception) -> str:
    """An exception's type and message on one line."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())


@cache
def of(reference: str) -> Source:
    """The source of model ``reference`` (:class:`models.ModelError` for a malformed user
    reference; an unknown name fails when first asked)."""
    if reference.lower().endswith(".onnx"):
        return OnnxFile(reference)
    if ":" in reference:
        return Factory(reference)
    return Shared(reference)
