"""Expensive baseline figures (attacker training, adversarial accuracy), computed once and
cached as JSON next to the weights, so benchmark runs can read them.

A cached evaluation is used only for exactly the inputs it was computed from (its *key*):
the SHA-256 of every weights file involved (the baseline's own and the plain cnn's it is
compared with) and the version of the evaluation code (a hash of the source of the
modules that compute the figures, :data:`EVALUATION_MODULES`). A run that reports cached
figures stores them with ``source = "cached"``; a run with ``measure_attack=true`` measures
them itself (smaller settings) and stores them as ``measured``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import models
from ..models import WEIGHTS_DIR, weights_info, weights_path
from ..models.train import train as train_model

#: the plain model every baseline's figures are compared with
REFERENCE_MODEL = "cnn"
#: modules whose source makes up the evaluation code version, per baseline model
EVALUATION_MODULES = {
    "complex": ("mpcbench.baselines.complex.evaluation", "mpcbench.baselines.complex.inversion",
                "mpcbench.baselines.complex.model", "mpcbench.baselines.perturb",
                "mpcbench.models.train", "mpcbench.models.cnn"),
    "cnnf": ("mpcbench.baselines.feedback.evaluation", "mpcbench.baselines.feedback.robustness",
             "mpcbench.baselines.feedback.model", "mpcbench.baselines.perturb",
             "mpcbench.models.train", "mpcbench.models.cnn"),
    "complex-adv": ("mpcbench.baselines.complex.adversarial",
                    "mpcbench.baselines.complex.mean_phase",
                    "mpcbench.baselines.complex.inversion", "mpcbench.baselines.complex.model",
                    "mpcbench.baselines.inversion", "mpcbench.baselines.perturb"),
    "split": ("mpcbench.baselines.split.evaluation", "mpcbench.baselines.inversion",
              "mpcbench.baselines.split.model", "mpcbench.baselines.perturb"),
    "vae": ("mpcbench.baselines.vae.evaluation", "mpcbench.baselines.vae.attack",
            "mpcbench.baselines.vae.lipschitz", "mpcbench.baselines.vae.model"),
}


def evaluation_path(name: str, dataset: str, weights_dir: Path = WEIGHTS_DIR) -> Path:
    """``data/weights/<name>-<dataset>.eval.json``."""
    return weights_path(name, dataset, weights_dir).with_suffix(".eval.json")


def code_version(name: str) -> str:
    """SHA-256 (16 hex digits) of the source of the modules computing ``name``'s figures
    (without importing them); ``name`` is a model or trained weights of one (``split-dp0.5``),
    whose figures the model's modules compute unless they have modules of their own."""
    digest = hashlib.sha256()
    for module in EVALUATION_MODULES.get(name) or EVALUATION_MODULES[name.split("-")[0]]:
        spec = importlib.util.find_spec(module)
        digest.update(module.encode() + b"\0" + Path(spec.origin).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_key(name: str, dataset: str, weights_dir: Path = WEIGHTS_DIR) -> dict[str, str]:
    """Every input of ``name``'s cached figures on ``dataset``: weights hashes and code version.

    Raises :class:`~mpcbench.models.ModelError` if a weights file is missing."""
    return {
        "weights_sha256": weights_info(name, dataset, weights_dir).sha256,
        "cnn_weights_sha256": weights_info(REFERENCE_MODEL, dataset, weights_dir).sha256,
        "code_sha256": code_version(name),
    }


def load_evaluation(
    name: str, dataset: str, weights_dir: Path = WEIGHTS_DIR
) -> dict[str, Any] | None:
    """Cached figures of ``name`` on ``dataset``; ``None`` if missing or made from other
    inputs (other weights of ``name`` or of the cnn, other evaluation code)."""
    path = evaluation_path(name, dataset, weights_dir)
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    try:
        key = cache_key(name, dataset, weights_dir)
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
