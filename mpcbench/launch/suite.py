"""Declarative benchmark suites (YAML in ``benchmarks/``) and their expansion into cases.

A suite names the grid: frameworks x models x datasets x parties x batch sizes x
dtypes x variants (``stock``/``tuned``, for the backends that have the option; empty:
the backend's default), with images, repeats, warm-up and a timeout per case.
``overrides`` change any of those fields (and framework ``options``) for a framework, a
model, or ``framework/model``, applied in that order; a framework's override may name
its own ``models``. Unknown keys are rejected before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from itertools import product
from pathlib import Path
from typing import Any

import yaml

from .. import parties
from ..case import MICRO, Case
from ..errors import InputError
from . import catalog


class SuiteError(InputError):
    """A suite file is missing or malformed."""


@dataclass(frozen=True)
class Grid:
    """The fields a suite (and each override) may set."""

    frameworks: tuple[str, ...] = ("plaintext", "crypten")
    models: tuple[str, ...] = ("mlp",)
    datasets: tuple[str, ...] = ("mnist",)
    parties: tuple[int, ...] = (2,)
    batch_sizes: tuple[int, ...] = ()  # empty: the model's default batch
    dtypes: tuple[str, ...] = ("float32",)
    variants: tuple[str, ...] = ()  # empty: the backend's default (stock)
    images: int = 64
    repeats: int = 1
    warmup: int = 0
    timeout_s: float = 600.0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    """A named grid plus overrides."""

    name: str
    description: str
    grid: Grid
    overrides: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class PlannedCase:
    """One cell of the expanded grid."""

    case: Case
    timeout_s: float


_GRID_KEYS = {f.name for f in fields(Grid)}


def _grid(base: Grid, values: dict[str, Any], where: str) -> Grid:
    unknown = sorted(set(values) - _GRID_KEYS)
    if unknown:
        raise SuiteError(f"{where}: unknown key(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(sorted(_GRID_KEYS))}")
    conv = {}
    for key, value in values.items():
        default = getattr(Grid, key, None)
        if isinstance(default, tuple):
            value = tuple(value if isinstance(value, list | tuple) else [value])
        elif key == "options":
            value = {**base.options, **(value or {})}
        conv[key] = value
    return replace(base, **conv)


def load_suite(path: Path | str) -> Suite:
    """Parse and validate a suite file."""
    path = Path(path)
    if path.is_dir() or path.suffix == "":
        path = path.with_suffix(".yaml") if not path.is_dir() else path / "suite.yaml"
    if not path.exists():
        raise SuiteError(f"suite file {path} does not exist")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SuiteError(f"suite file {path} is not valid YAML: {exc}") from None
    doc = dict(doc)
    name = doc.pop("name", path.stem)
    description = doc.pop("description", "")
    overrides = doc.pop("overrides", {}) or {}
    grid = _grid(Grid(), doc, str(path))
    for key, values in overrides.items():
        _grid(grid, values, f"{path}: override {key}")  # validate keys now
    return Suite(str(name), str(description), grid, overrides)


def _apply(suite: Suite, grid: Grid, *keys: str) -> Grid:
    for key in keys:
        if key in suite.overrides:
            grid = _grid(grid, suite.overrides[key], f"override {key}")
    return grid


def _batch_sizes(grid: Grid, model: str) -> tuple[int, ...]:
    if grid.batch_sizes:
        return grid.batch_sizes
    return (grid.images,) if model == MICRO else (catalog.default_batch(model),)


def expand(suite: Suite, extra_options: dict[str, Any] | None = None) -> list[PlannedCase]:
    """All cases of ``suite``, validated by their backends, in a stable order.

    A framework that runs with one party (plaintext and the baselines) gets one case
    per remaining cell instead of one per party count.
    """
    planned: list[PlannedCase] = []
    for framework in suite.grid.frameworks:
        backend = parties.get(framework)
        framework_grid = _apply(suite, suite.grid, framework)  # may name its own models
        for model in framework_grid.models:
            if model != MICRO:
                catalog.model_module(model)
            grid = _apply(suite, framework_grid, model, f"{framework}/{model}")
            counts = (1,) if backend.max_parties == 1 else grid.parties
            variants = [{"variant": v} for v in grid.variants] if backend.variants else []
            for dataset in grid.datasets:
                for n, batch, dtype, variant in product(
                        counts, _batch_sizes(grid, model), grid.dtypes, variants or [{}]):
                    case = Case(framework, model, dataset, n, grid.images,
                                min(batch, grid.images), grid.repeats, grid.warmup, dtype,
                                {**grid.options, **variant, **(extra_options or {})})
                    backend.validate(case)
                    planned.append(PlannedCase(case, grid.timeout_s))
    return planned
