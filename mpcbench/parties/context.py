"""What a party knows about its run, and the run spec that carries it to every party.

It imports nothing heavy: the party program reads its spec before it imports its
framework, while its pulse already beats.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from ..case import Case


@dataclass(frozen=True)
class PartyContext:
    """Everything a party needs to join a run.

    Ranks ``0 .. parties-1`` are the computing parties; a backend that needs dealers
    (:class:`~.capabilities.Dealer`) gets them as the ranks after those, with addresses too.
    """

    rank: int
    #: the computing parties (dealers not included)
    parties: int
    #: ``host:port`` of every party, then of every dealer, indexed by rank (rank 0's is
    #: also the rendezvous)
    addresses: tuple[str, ...]
    #: the case, with its roles (model owner, data owners, who learns the logits)
    case: Case
    threads: int = 1
    #: id of the run (the launcher's)
    run_id: str = ""
    #: directory each party writes its shares of the shared model to (:mod:`.shares`)
    save_shares: str | None = None

    @property
    def is_dealer(self) -> bool:
        """Whether this process is a dealer rather than a computing party."""
        return self.rank >= self.parties


def spec_json(ctx: PartyContext) -> str:
    """The run description every party reads (its own rank comes from argv), one line."""
    return json.dumps(dataclasses.asdict(ctx))


def read_spec(text: str, rank: int) -> PartyContext:
    """The :class:`PartyContext` of ``rank`` in a run spec (JSON text)."""
    spec = json.loads(text)
    spec["case"] = Case(**spec["case"])
    spec["addresses"] = tuple(spec["addresses"])
    spec["rank"] = rank
    return PartyContext(**spec)
