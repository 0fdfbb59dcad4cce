"""Network profiles: what every link between two party hosts should look like.

A :class:`Link` is one direction between two hosts: one-way delay, jitter, rate and loss.
A :class:`Profile` is a default link plus optional per-(src, dst) overrides, a matrix
like the LAN/WAN files hpmpc publishes. Profiles are named (:data:`NAMED`) or read from
a YAML file (:func:`load_profile`)::

    name: campus            # optional, defaults to the file name
    default: {delay_ms: 5, jitter_ms: 0.5, rate_mbit: 1000, loss: 0}
    matrix:                 # optional n x n matrices (row = src, column = dst);
      delay_ms: [[0, 5, 40], [5, 0, 40], [40, 40, 0]]   # null or the diagonal = default
    links:                  # optional overrides, applied after the matrix
      - {src: 0, dst: 2, rate_mbit: 100, symmetric: true}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...errors import InputError

#: shortest queue of a rate-limited link, in seconds of sending
MIN_QUEUE_S = 0.02
#: a rate-limited link queues at least this many full-size packets
QUEUE_PACKETS = 16


@dataclass(frozen=True)
class Link:
    """One direction of one host pair.

    Every packet waits ``delay_s`` plus a uniform draw in ``±jitter_s`` (never overtaking
    the one before it), is sent at ``rate_bps`` bit/s (``None``: unlimited) and is lost
    with probability ``loss``.
    """

    delay_s: float = 0.0
    jitter_s: float = 0.0
    rate_bps: float | None = None
    loss: float = 0.0

    def __post_init__(self) -> None:
        if self.delay_s < 0 or self.jitter_s < 0:
            raise InputError(f"link delay and jitter must be >= 0, got {self}")
        if self.rate_bps is not None and self.rate_bps <= 0:
            raise InputError(f"link rate must be > 0 bit/s or unlimited, got {self}")
        if not 0.0 <= self.loss <= 1.0:
            raise InputError(f"link loss must be a fraction in [0, 1], got {self}")

    def queue_s(self, mtu: int) -> float:
        """How long a rate-limited link may queue packets before it drops (drop tail).

        The longest of :data:`MIN_QUEUE_S`, four times the delay (about two
        bandwidth-delay products) and :data:`QUEUE_PACKETS` full-size packets.
        """
        assert self.rate_bps is not None
        return max(MIN_QUEUE_S, 4 * (self.delay_s + self.jitter_s),
                   QUEUE_PACKETS * mtu * 8 / self.rate_bps)

    def describe(self) -> dict[str, float | None]:
        return {"delay_s": self.delay_s, "jitter_s": self.jitter_s,
                "rate_bps": self.rate_bps, "loss": self.loss}


#: a link that drops everything: an emulated cable cut
CUT = Link(loss=1.0)


@dataclass(frozen=True)
class Profile:
    """A default :class:`Link` plus per-(src rank, dst rank) overrides.

    ``emulated=False`` (the ``none`` profile) means no emulated network at all: the
    parties share the launcher's loopback.
    """

    name: str
    default: Link = Link()
    overrides: Mapping[tuple[int, int], Link] = field(default_factory=dict)
    emulated: bool = True

    def link(self, src: int, dst: int) -> Link:
        return self.overrides.get((src, dst), self.default)

    def check(self, parties: int) -> None:
        """Raise :class:`InputError` if an override names a rank outside ``parties``."""
        bad = sorted(pair for pair in self.overrides if max(pair) >= parties)
        if bad:
            raise InputError(f"network profile {self.name!r} sets links {bad} but the run "
                             f"has only {parties} parties")

    def describe(self, parties: int | None = None) -> dict[str, Any]:
        """A JSON-able description; with ``parties``, every ordered pair's requested link."""
        out: dict[str, Any] = {"name": self.name, "emulated": self.emulated,
                               "default": self.default.describe(),
                               "overrides": [{"src": s, "dst": d, **link.describe()}
                                             for (s, d), link in sorted(self.overrides.items())]}
        if parties is not None:
            out["links"] = [{"src": s, "dst": d, **self.link(s, d).describe()}
                            for s in range(parties) for d in range(parties) if s != d]
        return out


_MS = 1e-3
_MBIT = 1e6

NAMED: dict[str, Profile] = {
    "none": Profile("none", emulated=False),
    "zero": Profile("zero"),
    "lan": Profile("lan", Link(delay_s=0.1 * _MS, rate_bps=10_000 * _MBIT)),
    "lan1g": Profile("lan1g", Link(delay_s=0.25 * _MS, rate_bps=1000 * _MBIT)),
    "wan": Profile("wan", Link(delay_s=35 * _MS, rate_bps=320 * _MBIT)),
    "wan100": Profile("wan100", Link(delay_s=50 * _MS, rate_bps=100 * _MBIT)),
    "falcon-lan": Profile("falcon-lan", Link(delay_s=0.13 * _MS)),
    "falcon-wan": Profile("falcon-wan", Link(delay_s=20 * _MS, rate_bps=100 * _MBIT)),
}
"""Named profiles; ``zero`` is an emulated network with ideal links (the emulator's cost).

``falcon-lan`` and ``falcon-wan`` are the settings under which Liu et al. (USENIX Security
'24, repository f7ed/hmmpc-public, README "Traffic Control to Simulate LAN and WAN")
measured their protocols and Falcon: ``tc qdisc add dev lo root netem delay 0.13ms`` and
``netem delay 20ms rate 100mbit`` on the loopback and on each server's NIC. netem delays a
packet when it leaves an interface, and a request and its answer each leave one (the
loopback once per direction, each server's NIC on its way out), so every direction waits
the stated delay once: one-way 0.13 ms and 20 ms here, a round trip of 0.26 ms and 40 ms.
One netem qdisc on the loopback shapes all parties' traffic on that host together to
100 Mbit/s; here every direction of every pair has its own 100 Mbit/s.
"""


class _LinkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delay_ms: float | None = Field(None, ge=0)
    jitter_ms: float | None = Field(None, ge=0)
    rate_mbit: float | None = Field(None, gt=0)
    loss: float | None = Field(None, ge=0, le=1)

    def apply(self, base: Link) -> Link:
        changes: dict[str, float] = {}
        if self.delay_ms is not None:
            changes["delay_s"] = self.delay_ms * _MS
        if self.jitter_ms is not None:
            changes["jitter_s"] = self.jitter_ms * _MS
        if self.rate_mbit is not None:
            changes["rate_bps"] = self.rate_mbit * _MBIT
        if self.loss is not None:
            changes["loss"] = self.loss
        return replace(base, **changes)


class _PairSpec(_LinkSpec):
    src: int = Field(ge=0)
    dst: int = Field(ge=0)
    symmetric: bool = False


class _FileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    default: _LinkSpec = _LinkSpec()
    matrix: dict[str, list[list[float | None]]] = {}
    links: list[_PairSpec] = []


def _overrides(spec: _FileSpec, default: Link) -> dict[tuple[int, int], Link]:
    fields = set(_LinkSpec.model_fields)
    out: dict[tuple[int, int], Link] = {}
    for key, rows in spec.matrix.items():
        if key not in fields:
            raise InputError(f"matrix.{key}: unknown field (use {', '.join(sorted(fields))})")
        if any(len(row) != len(rows) for row in rows):
            raise InputError(f"matrix.{key}: must be a square n x n matrix")
        for src, row in enumerate(rows):
            for dst, value in enumerate(row):
                if value is not None and src != dst:
                    base = out.get((src, dst), default)
                    out[(src, dst)] = _LinkSpec(**{key: value}).apply(base)
    for pair in spec.links:
        if pair.src == pair.dst:
            raise InputError(f"links: src and dst are both {pair.src}")
        ends = [(pair.src, pair.dst)] + ([(pair.dst, pair.src)] if pair.symmetric else [])
        for end in ends:
            out[end] = pair.apply(out.get(end, default))
    return out


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "file"
    return f"{where}: {first['msg']}"


def load_profile(path: Path) -> Profile:
    """Read and validate a YAML profile; any problem is one :class:`InputError` line."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise InputError(f"network profile {path}: {str(err).splitlines()[0]}") from None
    try:
        spec = _FileSpec.model_validate(raw if raw is not None else {})
        default = spec.default.apply(Link())
        return Profile(spec.name or path.stem, default, _overrides(spec, default))
    except ValidationError as err:
        raise InputError(f"network profile {path}: {_first_error(err)}") from None
    except InputError as err:
        raise InputError(f"network profile {path}: {err}") from None


def get_profile(spec: str | Path) -> Profile:
    """A named profile, or the YAML file ``spec`` names."""
    if isinstance(spec, str) and spec in NAMED:
        return NAMED[spec]
    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_profile(path)
    raise InputError(f"unknown network profile {str(spec)!r}: use one of "
                     f"{', '.join(NAMED)} or a .yaml file")
