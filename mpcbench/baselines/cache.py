"""Expensive baseline figures (attacker training, adversarial accuracy), computed once per
trained weights and cached as JSON next to them, so benchmark runs only read them."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import models
from ..models import WEIGHTS_DIR, weights_info, weights_path
from ..models.train import train as train_model


def evaluation_path(name: str, dataset: str, weights_dir: Path = WEIGHTS_DIR) -> Path:
    """``data/weights/<name>-<dataset>.eval.json``."""
    return weights_path(name, dataset, weights_dir).with_suffix(".eval.json")


def load_evaluation(
    name: str, dataset: str, weights_dir: Path = WEIGHTS_DIR
) -> dict[str, Any] | None:
    """Cached figures of ``name`` on ``dataset``; ``None`` if missing or made for other weights."""
    path = evaluation_path(name, dataset, weights_dir)
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    try:
        digest = weights_info(name, dataset, weights_dir).sha256
    except models.ModelError:
        return None
    return result if result.get("weights_sha256") == digest else None


def save_evaluation(name: str, dataset: str, result: dict[str, Any],
                    weights_dir: Path = WEIGHTS_DIR) -> dict[str, Any]:
    """Cache ``result`` for the current weights of ``name`` (and of the cnn it is
    compared with); returns what was written."""
    result = {
        "model": name,
        "dataset": dataset,
        "weights_sha256": weights_info(name, dataset, weights_dir).sha256,
        "cnn_weights_sha256": weights_info("cnn", dataset, weights_dir).sha256,
        **result,
    }
    evaluation_path(name, dataset, weights_dir).write_text(json.dumps(result, indent=2) + "\n")
    return result


def ensure_trained(name: str, dataset: str, module: ModuleType | None = None) -> None:
    """Train ``name`` on ``dataset`` (with ``module``'s own recipe) if it has no weights."""
    try:
        weights_info(name, dataset)
    except models.ModelError:
        train_model(name, dataset, model_module=module)
