"""Expensive baseline figures (attacker training, adversarial accuracy), computed once and
cached as JSON next to the weights, so benchmark runs can read them.

A cached evaluation is used only for exactly the inputs it was computed from (its *key*):
the SHA-256 of every weights file involved (the baseline's own and the plain cnn's it is
compared with) and the version of the evaluation code (a hash of the source of the
modules that compute the figures, which each baseline's backend declares in its
``evaluation_code``; :func:`evaluation_code` gathers them from the backend registry). A run
that reports cached figures stores them with ``source = "cached"``; a run with
``measure_attack=true`` measures them itself (smaller settings) and stores them as
``measured``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import models, parties
from ..models import WEIGHTS_DIR, weights_info, weights_path
from ..models.train import train as train_model

#: the plain model every baseline's figures are compared with
REFERENCE_MODEL = "cnn"
#: what a baseline declares its evaluation code with: weights name -> the modules whose
#: source makes up the version of the code computing that weights' figures
EvaluationCode = Mapping[str, tuple[ModuleType, ...]]


def evaluation_code() -> EvaluationCode:
    """The ``evaluation_code`` of every baseline of the backend registry, merged."""
    return {name: modules for cls in parties.registry().values()
            for name, modules in getattr(cls, "evaluation_code", {}).items()}


def evaluation_path(name: str, dataset: str, weights_dir: Path = WEIGHTS_DIR) -> Path:
    """``data/weights/<name>-<dataset>.eval.json``."""
    return weights_path(name, dataset, weights_dir).with_suffix(".eval.json")


def code_version(name: str, code: EvaluationCode | None = None) -> str:
    """SHA-256 (16 hex digits) of the source of the modules computing ``name``'s figures;
    ``name`` is a model or trained weights of one (``split-dp0.5``), whose figures the
    model's modules compute unless they have modules of their own. ``code``: the
    baseline's own declaration (default: every baseline's, :func:`evaluation_code`)."""
    code = evaluation_code() if code is None else code
    digest = hashlib.sha256()
    for module in code.get(name) or code[name.split("-")[0]]:
        digest.update(module.__name__.encode() + b"\0" + Path(module.__file__).read_bytes()
                      + b"\0")
    return digest.hexdigest()[:16]


def cache_key(name: str, dataset: str, weights_dir: Path = WEIGHTS_DIR,
              code: EvaluationCode | None = None) -> dict[str, str]:
    """Every input of ``name``'s cached figures on ``dataset``: weights hashes and code
    version (of ``code``, see :func:`code_version`).

    Raises :class:`~mpcbench.models.ModelError` if a weights file is missing."""
    return {
        "weights_sha256": weights_info(name, dataset, weights_dir).sha256,
        "cnn_weights_sha256": weights_info(REFERENCE_MODEL, dataset, weights_dir).sha256,
        "code_sha256": code_version(name, code),
    }


def load_evaluation(
    name: str, dataset: str, weights_dir: Path = WEIGHTS_DIR, code: EvaluationCode | None = None
) -> dict[str, Any] | None:
    """Cached figures of ``name`` on ``dataset``; ``None`` if missing or made from other
    inputs (other weights of ``name`` or of the cnn, other evaluation code: ``code``, see
    :func:`code_version`)."""
    path = evaluation_path(name, dataset, weights_dir)
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    try:
        key = cache_key(name, dataset, weights_dir, code)
    except models.ModelError:
        return None
    return result if all(result.get(k) == v for k, v in key.items()) else None


def save_evaluation(name: str, dataset: str, result: dict[str, Any],
                    weights_dir: Path = WEIGHTS_DIR) -> dict[str, Any]:
    """Cache ``result`` under the key of the current inputs; returns what was written."""
    result = {"model": name, "dataset": dataset, **cache_key(name, dataset, weights_dir),
              **result}
    evaluation_path(name, dataset, weights_dir).write_text(json.dumps(result, indent=2) + "\n")
    return result


def ensure_trained(name: str, dataset: str, module: ModuleType | None = None) -> None:
    """Train ``name`` on ``dataset`` (with ``module``'s own recipe) if it has no weights."""
    try:
        weights_info(name, dataset)
    except models.ModelError:
        train_model(name, dataset, model_module=module)
