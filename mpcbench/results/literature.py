"""Published figures of secure inference: :data:`PATH` read and validated.

The file lists, per network and setting, what a paper or its artifact published: the
system (protocol and security), parties, batch, the link setting (a named emulated-network
profile, or none: loopback), online or total, seconds per image, MB (10^6 bytes) per
party, and where each number stands in its source (paper and table, or repository file
and commit, with the cell). :func:`load` returns it typed; the report's "Against the
literature" section (:mod:`mpcbench.report.literature`) puts our cells beside it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import InputError

PATH = Path(__file__).with_name("literature.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """Where figures come from: a repository file at a commit, or a paper's table."""

    title: str
    repo: str | None = None
    path: str | None = None
    commit: str | None = Field(None, pattern=r"^[0-9a-f]{40}$")
    table: str | None = None
    license: str | None = None
    hardware: str

    @model_validator(mode="after")
    def _located(self) -> Source:
        in_repo = (self.repo, self.path, self.commit)
        if self.table is None and None in in_repo:
            raise ValueError("a source names a paper's table, or a repo, path and commit")
        return self

    def cite(self, cells: str = "") -> str:
        """One line: the title and where in it (``repo:path@commit``, cells)."""
        where = self.table or f"{self.repo}:{self.path}@{self.commit[:7]}"  # type: ignore[index]
        return f"{self.title}; {where}" + (f", cells {cells}" if cells else "")


class System(_Strict):
    """A published system: its protocol, its security and what its figures count."""

    name: str
    protocol: str
    security: str
    counted: str


class Setting(_Strict):
    """A link setting a source states, named as an emulated-network profile."""

    stated: str
    one_way_ms: float = Field(ge=0)
    rtt_ms: float = Field(ge=0)
    rate_mbit: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _round_trip(self) -> Setting:
        if abs(self.rtt_ms - 2 * self.one_way_ms) > 1e-9:
            raise ValueError(f"rtt_ms {self.rtt_ms} is not twice one_way_ms {self.one_way_ms}")
        return self


class Figure(_Strict):
    """One published measurement: a system on a network, parties, batch and link."""

    system: str
    model: str
    network: str
    dataset: str
    parties: int = Field(ge=2)
    batch: int = Field(ge=1)
    link: str | None
    phase: Literal["online", "total"]
    runs: int | None = Field(None, ge=1)
    s_per_img: float = Field(gt=0)
    s_per_img_mean: float | None = Field(None, gt=0)
    mb_per_party: float | None = Field(None, gt=0)
    mb_per_party_mean: float | None = Field(None, gt=0)
    offline_s_per_img: float | None = Field(None, gt=0)
    offline_mb_per_party: float | None = Field(None, gt=0)
    total_mb_per_party: float | None = Field(None, gt=0)
    source: str
    cells: dict[str, str] = {}

    @model_validator(mode="after")
    def _cells_name_values(self) -> Figure:
        unknown = set(self.cells) - {k for k, v in self if isinstance(v, float)}
        if unknown:
            raise ValueError(f"cells name no number of the figure: {sorted(unknown)}")
        return self


class Literature(_Strict):
    """The whole file; every figure's system, source and link are defined in it."""

    sources: dict[str, Source]
    systems: dict[str, System]
    settings: dict[str, Setting]
    figures: list[Figure]

    @model_validator(mode="after")
    def _references(self) -> Literature:
        for i, fig in enumerate(self.figures):
            for name, known in [(fig.system, self.systems), (fig.source, self.sources)]:
                if name not in known:
                    raise ValueError(f"figures.{i}: {name!r} is not defined")
            if fig.link is not None and fig.link not in self.settings:
                raise ValueError(f"figures.{i}: link {fig.link!r} is not in settings")
        keys = [(f.system, f.model, f.parties, f.batch, f.link) for f in self.figures]
        if len(set(keys)) != len(keys):
            raise ValueError("two figures of one system, network, parties, batch and link")
        return self


@cache
def load(path: Path = PATH) -> Literature:
    """The published figures of ``path``; any problem is one :class:`InputError` line."""
    try:
        return Literature.model_validate(yaml.safe_load(path.read_text()))
    except (OSError, yaml.YAMLError) as err:
        raise InputError(f"{path}: {str(err).splitlines()[0]}") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise InputError(f"{path}: {where}: {first['msg']}") from None
