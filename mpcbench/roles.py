"""Who holds what in a run: the model owner, the data owners and who learns the outputs.

Framework-independent: every backend, the launcher and the results read the same
:class:`Roles`, the same split of a batch among the data owners (:func:`split`) and the
same receivers of the logits (:func:`outputs`), so every party computes every share's
owner and shape by itself. A batch is split into contiguous slices, one per data owner
in rank order, as even as possible (the first ``n mod k`` owners hold one image more).

It sits below :mod:`mpcbench.case` (a case holds its roles) and imports nothing heavy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from .errors import InputError

#: ``--output`` value: each data owner learns the logits of its own images only
OWNERS = "owners"
#: role names as rows carry them (``+``-joined, sorted); a party with none computes only
DATA_OWNER, MODEL_OWNER, OUTPUT, COMPUTE = "data_owner", "model_owner", "output", "compute"
#: roles that hold private inputs (a dealer holding one sees its own secrets in the clear)
OWNER_ROLES = (DATA_OWNER, MODEL_OWNER)
_RANGE = re.compile(r"(\d+)(?:-(\d+))?")


class RoleError(InputError):
    """Roles that cannot describe a run (bad syntax, rank out of range, nothing to learn)."""


class Slice(NamedTuple):
    """Images ``lo:hi`` (indices into the case's images) and the party that holds them or
    learns their logits."""

    owner: int
    lo: int
    hi: int


def parse_ranks(text: str | int) -> tuple[int, ...]:
    """Ranks and ranges such as ``0,2-3`` as a sorted tuple; :class:`RoleError` for bad
    syntax, an empty list or a rank listed twice."""
    if not str(text).strip():
        raise RoleError("a run needs at least one data owner (--data-owners 0,2-3)")
    ranks: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        m = _RANGE.fullmatch(part)
        if not m or (m[2] is not None and int(m[2]) < int(m[1])):
            raise RoleError(f"data owners are ranks and ranges like 0,2-3, got {text!r}")
        ranks += range(int(m[1]), int(m[2] or m[1]) + 1)
    twice = sorted({r for r in ranks if ranks.count(r) > 1})
    if twice:
        raise RoleError(f"data owners list rank {twice[0]} twice: {text!r}")
    return tuple(sorted(ranks))


def format_ranks(ranks: tuple[int, ...]) -> str:
    """``(0, 2, 3)`` -> ``"0,2,3"`` (the text stored in the ``data_owners`` column)."""
    return ",".join(str(r) for r in ranks)


@dataclass(frozen=True)
class Roles:
    """The parties' roles in a run; the default is today's: party 0 holds everything."""

    #: rank that owns (and secret-shares) the model weights; the others learn the shapes
    model_owner: int = 0
    #: ranks that own (and secret-share) test images, sorted
    data_owners: tuple[int, ...] = (0,)
    #: ``owners`` (each data owner learns its own images' logits) or one rank (as text)
    #: that learns every logit
    output: str = OWNERS

    def __post_init__(self) -> None:
        # from a JSON spec: lists and numbers; one rank that owns all data is "owners"
        owners = tuple(sorted(int(r) for r in self.data_owners))
        object.__setattr__(self, "data_owners", owners)
        object.__setattr__(self, "model_owner", int(self.model_owner))
        output = str(self.output).strip().lower()
        if output != OWNERS and not output.isdigit():
            raise RoleError(f"output must be 'owners' or a rank (0, 1, ...), got "
                            f"{self.output!r}")
        if output != OWNERS and owners == (int(output),):
            output = OWNERS
        object.__setattr__(self, "output", output)

    @classmethod
    def parse(cls, model_owner: int | str = 0, data_owners: str | int = "0",
              output: str | int = OWNERS) -> Roles:
        """Roles from command-line or suite text (``--data-owners 0,2-3``); syntax only,
        :func:`check` tests them against a case."""
        return cls(_rank(model_owner, "model owner"), parse_ranks(data_owners), str(output))

    @property
    def is_default(self) -> bool:
        """Party 0 holds the model and all images and learns the logits (as before roles)."""
        return self == Roles()

    @property
    def receivers(self) -> tuple[int, ...]:
        """Ranks that learn logits."""
        return self.data_owners if self.output == OWNERS else (int(self.output),)

    def label(self) -> str:
        """Short text for case ids, e.g. ``mo=1,do=0+2,out=owners``."""
        owners = "+".join(str(r) for r in self.data_owners)
        return f"mo={self.model_owner},do={owners},out={self.output}"

    def record(self) -> dict[str, Any]:
        """The roles as part of a run's identity (JSON)."""
        return {"model_owner": self.model_owner, "data_owners": list(self.data_owners),
                "output": self.output}


def stored_label(model_owner: object, data_owners: object, output: object) -> str:
    """:meth:`Roles.label` of the role columns of a results row; empty for the default
    roles or missing columns."""
    try:  # a missing value (None, NaN, NA) is no rank either
        held = Roles.parse(model_owner, data_owners, output)
    except RoleError:
        return ""
    return "" if held.is_default else held.label()


def _rank(value: object, what: str) -> int:
    text = str(value).strip()
    if not text.isdigit():
        raise RoleError(f"{what} must be a rank (0, 1, ...), got {value!r}")
    return int(text)


def role_of(roles: Roles, rank: int) -> str:
    """The ``role`` column of ``rank``'s rows: sorted ``+``-joined roles, or ``compute``."""
    held = [name for name, holds in ((DATA_OWNER, rank in roles.data_owners),
                                     (MODEL_OWNER, rank == roles.model_owner),
                                     (OUTPUT, rank in roles.receivers)) if holds]
    return "+".join(sorted(held)) or COMPUTE


def security_record(roles: Roles, dealer: int | None, source: str) -> dict[str, Any]:
    """Security extras of the roles: where correlated randomness comes from (``source``),
    the private inputs its dealer (a rank, ``None`` if no party deals) also holds, and
    who learns which logits."""
    owns = [] if dealer is None else [r for r in role_of(roles, dealer).split("+")
                                      if r in OWNER_ROLES]
    if roles.output == OWNERS:
        outputs = "each data owner learns the logits of its own images only"
    else:
        others = len(roles.data_owners) > 1
        outputs = (f"party {roles.output} learns every logit"
                   + (" (also of the other data owners' images)" if others else ""))
    return {"randomness_source": source, "dealer_rank": dealer, "dealer_owns": owns,
            "outputs": outputs}


def owned(roles: Roles, rank: int, images: int, batch: int) -> list[int]:
    """Indices of the case's images that ``rank`` holds (its slices of every batch)."""
    return [i for lo, hi in batches(images, batch) for s in split(lo, hi, roles.data_owners)
            if s.owner == rank for i in range(s.lo, s.hi)]


def split(lo: int, hi: int, owners: tuple[int, ...]) -> list[Slice]:
    """Images ``lo:hi`` of a batch as contiguous slices, one per owner in rank order (the
    first ``(hi - lo) mod k`` owners hold one more); empty slices are left out."""
    n, k = hi - lo, len(owners)
    out, start = [], lo
    for i, owner in enumerate(owners):
        size = n // k + (i < n % k)
        if size:
            out.append(Slice(owner, start, start + size))
        start += size
    return out


def outputs(roles: Roles, lo: int, hi: int) -> list[Slice]:
    """Who learns which logits of batch ``lo:hi``: each owner its own slice, or the single
    output party the whole batch."""
    if roles.output == OWNERS:
        return split(lo, hi, roles.data_owners)
    return [Slice(int(roles.output), lo, hi)]


def batches(images: int, batch: int) -> list[tuple[int, int]]:
    """The ``lo:hi`` image ranges of the batches of a case."""
    return [(i, min(i + batch, images)) for i in range(0, images, batch)]


def check(roles: Roles, parties: int, images: int, batch: int) -> None:
    """:class:`RoleError` (one line) for roles a run of ``parties`` parties over ``images``
    images in batches of ``batch`` cannot have: a rank out of range, an output party that
    owns no images (nothing to learn), or a batch too small to give every data owner an
    image."""
    if not roles.data_owners:
        raise RoleError("a run needs at least one data owner (--data-owners 0,2-3)")
    named = [("model owner", roles.model_owner),
             *(("data owner", r) for r in roles.data_owners)]
    if roles.output != OWNERS:
        named.append(("output party", int(roles.output)))
    for what, rank in named:
        if not 0 <= rank < parties:
            raise RoleError(f"{what} {rank} is not a party: ranks run from 0 to {parties - 1}")
    if roles.output != OWNERS and int(roles.output) not in roles.data_owners:
        raise RoleError(f"output party {roles.output} owns no images, so it has nothing to "
                        f"learn: use a data owner ({format_ranks(roles.data_owners)}) or "
                        f"--output owners")
    smallest = min(hi - lo for lo, hi in batches(images, batch)) if images > 0 else 0
    k = len(roles.data_owners)
    if k > 1 and smallest < k:
        raise RoleError(f"a batch of {smallest} images cannot give each of the {k} data "
                        f"owners an image: use --batch and --images of at least {k}")
