"""Declarative benchmark suites (YAML in ``benchmarks/``) and their expansion into cases.

A suite names the grid: frameworks x models x datasets x parties x batch sizes x
dtypes x variants (``stock``/``tuned``, for the backends that have the option; empty:
the backend's default) x providers (of correlated randomness, e.g. CrypTen's
``TFP``/``TTP``, for the backends that have the option; empty: the default) x protocols
(for the backends that have the option, each at the party counts it runs with; empty:
the default) x networks,
with images, repeats, warm-up and a timeout per case, and the roles of every case
(``model_owner``, ``data_owners``, ``output``; see :mod:`mpcbench.roles`).
``overrides`` change any of those fields (and framework ``options``; a list of values is
swept, one case per value) for a framework, a model, or ``framework/model``, applied in
that order; a framework's override may name its own ``models``. The file is checked
against a strict schema (pydantic) before anything runs: unknown keys, values of the wrong
type (``images: "64"``, ``repeats: 1.5``) and out-of-range values (``batch_sizes: [0]``)
are named with their suite file and field. :func:`cells` turns the cases into the
sweep's cells, one per identity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
)

from .. import parties
from ..case import (
    DEFAULT_IMAGES,
    DEFAULT_LR,
    DEFAULT_MODEL,
    DEFAULT_PARTIES,
    EPOCH_IMAGES,
    NO_NETWORK,
    Case,
    Training,
)
from ..errors import InputError
from ..results import identity as ident
from ..roles import OWNERS, Roles, format_ranks
from . import checks, defaults
from .record import code_identity, identity

if TYPE_CHECKING:
    from ..parties.base import Backend


class SuiteError(InputError):
    """A suite file is missing or malformed."""


class Grid(BaseModel):
    """The fields a suite (and each override) may set; a list field also takes one value."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    frameworks: tuple[str, ...] = ("plaintext", "crypten")
    models: tuple[str, ...] = (DEFAULT_MODEL,)
    datasets: tuple[str, ...] = ("mnist",)
    parties: tuple[PositiveInt, ...] = (DEFAULT_PARTIES,)
    batch_sizes: tuple[PositiveInt, ...] = ()  # empty: the model's default batch
    dtypes: tuple[str, ...] = ("float32",)
    #: networks the parties talk over (see :class:`mpcbench.case.Case`)
    networks: tuple[str, ...] = (NO_NETWORK,)
    #: empty: the backend's default (stock)
    variants: tuple[str, ...] = ()
    #: empty: the backend's default; else each backend that has the option runs each
    providers: tuple[str, ...] = ()
    #: empty: the backend's default; else each backend that has the option runs each
    #: protocol it has at the party counts that protocol runs with
    protocols: tuple[str, ...] = ()
    images: PositiveInt = DEFAULT_IMAGES
    repeats: PositiveInt = 1
    warmup: NonNegativeInt = 0
    timeout_s: PositiveFloat = 600.0
    options: dict[str, Any] = Field(default_factory=dict)
    #: roles (see :mod:`mpcbench.roles`): the model owner's rank, the data owners' ranks
    #: (``0,2-3`` or a list) and who learns the logits (``owners`` or one rank)
    model_owner: NonNegativeInt = 0
    data_owners: str = "0"
    output: str = OWNERS
    #: ``infer`` (secure inference) or ``train`` (secure training: ``steps`` SGD steps at
    #: rate ``lr`` from the initial weights of ``seed`` on the first ``train_images``
    #: training images, scored on ``images`` test images; default batch 128)
    task: Literal["infer", "train"] = "infer"
    steps: PositiveInt = 10
    lr: PositiveFloat = DEFAULT_LR
    seed: int = 0
    train_images: PositiveInt = EPOCH_IMAGES

    @field_validator("frameworks", "models", "datasets", "parties", "batch_sizes", "dtypes",
                     "networks", "variants", "providers", "protocols", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list | tuple) else (value,)

    @field_validator("data_owners", "output", mode="before")
    @classmethod
    def _ranks(cls, value: Any) -> Any:
        if isinstance(value, list | tuple) and all(type(v) is int for v in value):
            return format_ranks(tuple(value))
        return str(value) if type(value) is int else value

    def roles(self) -> Roles:
        """The grid's roles (:class:`mpcbench.roles.RoleError` for bad syntax)."""
        return Roles.parse(self.model_owner, self.data_owners, self.output)


class _SuiteFile(Grid):
    """A suite file: a grid plus its name, description and (unchecked here) overrides."""

    name: str | None = None
    description: str = ""
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    """A named grid plus overrides."""

    name: str
    description: str
    grid: Grid
    overrides: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class PlannedCase:
    """One case of the expanded grid."""

    case: Case
    timeout_s: float


@dataclass(frozen=True)
class Cell:
    """A planned case and the identity of its run: what a sweep runs once."""

    planned: PlannedCase
    #: the run's identity (:func:`.record.identity`); ``None`` if it cannot be resolved
    identity: dict[str, Any] | None
    #: the identity's fingerprint, or for an unresolved identity a hash of the case
    key: str
    #: why the identity cannot be resolved (the case then fails when it runs)
    problem: str | None = None


def _problems(exc: ValidationError, model: type[BaseModel]) -> str:
    """One line naming every bad field of a failed validation."""
    found = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            found.append(f"unknown key {where!r}; allowed: {', '.join(model.model_fields)}")
        else:
            found.append(f"{where}: {error['msg'].lower()}, got {error['input']!r}")
    return "; ".join(found)


def _grid(base: Grid, values: dict[str, Any], where: str) -> Grid:
    """``base`` with the fields of ``values`` replaced (``options`` merged), validated."""
    merged = {**base.model_dump(), **values}
    if isinstance(values.get("options"), dict):
        merged["options"] = {**base.options, **values["options"]}
    try:
        grid = Grid.model_validate(merged)
        grid.roles()
    except ValidationError as exc:
        raise SuiteError(f"{where}: {_problems(exc, Grid)}") from None
    except InputError as exc:
        raise SuiteError(f"{where}: {exc}") from None
    return grid


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
    if not isinstance(doc, dict):
        raise SuiteError(f"suite file {path} must be a mapping of keys, got {doc!r}")
    try:
        parsed = _SuiteFile.model_validate(doc)
    except ValidationError as exc:
        raise SuiteError(f"suite file {path}: {_problems(exc, _SuiteFile)}") from None
    grid = Grid.model_validate(parsed.model_dump(include=set(Grid.model_fields)))
    try:
        grid.roles()
    except InputError as exc:
        raise SuiteError(f"suite file {path}: {exc}") from None
    for key, values in parsed.overrides.items():
        _grid(grid, values, f"suite file {path}: override {key}")  # check them now
    return Suite(parsed.name or path.stem, parsed.description, grid, parsed.overrides)


def _apply(suite: Suite, grid: Grid, *keys: str) -> Grid:
    for key in keys:
        if key in suite.overrides:
            grid = _grid(grid, suite.overrides[key], f"override {key}")
    return grid


def _batch_sizes(grid: Grid) -> tuple[int | None, ...]:
    """The grid's batch sizes (``None``: the case's default, :mod:`.defaults`)."""
    return grid.batch_sizes or (None,)


def option_grid(options: dict[str, Any]) -> list[dict[str, Any]]:
    """One options dict per combination of the list-valued options, in order
    (``{noise_multiplier: [0.7, 0.3]}``: two cases); ``[options]`` without lists."""
    lists = [k for k, v in options.items() if isinstance(v, list)]
    return [{**options, **dict(zip(lists, values, strict=True))}
            for values in product(*(options[k] for k in lists))]


def _training(grid: Grid) -> Training | None:
    if grid.task != "train":
        return None
    return Training(grid.steps, grid.lr, grid.seed, grid.train_images)


def _protocols(grid: Grid, backend: type[Backend]) -> list[dict[str, str]]:
    """The grid's protocols as options of ``backend`` (none if it has no such option);
    :class:`SuiteError` for one it does not have."""
    if not backend.protocols:
        return []
    unknown = [p for p in grid.protocols if p.upper() not in backend.protocols]
    if unknown:
        raise SuiteError(f"{backend.name} has no protocol {', '.join(unknown)}; it has "
                         f"{', '.join(backend.protocols)}")
    return [{"protocol": p.upper()} for p in grid.protocols]


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
            grid = _apply(suite, framework_grid, model, f"{framework}/{model}")
            counts = (1,) if backend.max_parties == 1 else grid.parties
            networks = (NO_NETWORK,) if backend.max_parties == 1 else grid.networks
            variants = [{"variant": v} for v in grid.variants] if backend.variants else []
            providers = ([{"provider": p} for p in grid.providers] if backend.providers
                         else [])
            protocols = _protocols(grid, backend)
            for dataset in grid.datasets:
                for n, batch, dtype, network, variant, provider, protocol, options in product(
                        counts, _batch_sizes(grid), grid.dtypes, networks, variants or [{}],
                        providers or [{}], protocols or [{}], option_grid(grid.options)):
                    if protocol and protocol["protocol"] not in backend.protocols_for(n):
                        continue
                    case = defaults.case(
                        framework, model, parties=n, images=grid.images, batch=batch,
                        workload=_training(grid), dataset=dataset, repeats=grid.repeats,
                        warmup=grid.warmup, dtype=dtype,
                        options={**options, **variant, **provider, **protocol,
                                 **(extra_options or {})},
                        network=network, roles=grid.roles())
                    checks.validate(case, backend)
                    planned.append(PlannedCase(case, grid.timeout_s))
    return planned


def cells(planned: list[PlannedCase]) -> list[Cell]:
    """The cells of ``planned``, in order: cases of one fingerprint (a value listed twice,
    two batch sizes capped to the same image count) are one cell, the first of them."""
    code = code_identity()
    found: dict[str, Cell] = {}
    for p in planned:
        try:
            known = identity(p.case, code)
            cell = Cell(p, known, ident.fingerprint(known))
        except Exception as exc:  # an invalid case fails (and is stored) when it runs
            cell = Cell(p, None, ident.fingerprint({"unresolved": asdict(p.case)}),
                        f"{type(exc).__name__}: {exc}")
        found.setdefault(cell.key, cell)
    return list(found.values())
