"""Parties outnumbering the cores (with their threads): what the launcher says before
they start, and what it stores (:func:`mpcbench.launch.record.oversubscription`)."""

from __future__ import annotations

import pytest

from mpcbench.case import Case
from mpcbench.launch import record
from mpcbench.launch.placement import Placement
from mpcbench.parties.context import PartyContext

LOCAL = Placement((), (), (), kind="local")
SLICED = ": they are time-sliced, times include waiting for a core"


def _context(parties: int, addresses: list[str], threads: int = 1) -> PartyContext:
    return PartyContext(rank=-1, parties=parties, addresses=tuple(addresses),
                        case=Case("mpyc", "mlp", parties=parties), threads=threads)


@pytest.mark.parametrize(("parties", "addresses", "threads", "placement", "said"), [
    (2, ["l:1", "l:2"], 1, LOCAL, None),
    (3, ["l:1", "l:2", "l:3"], 1, LOCAL, "3 parties on 2 cores"),
    (2, ["l:1", "l:2"], 2, LOCAL, "2 parties \N{MULTIPLICATION SIGN} 2 threads on 2 cores"),
    (1, ["l:1"], 3, LOCAL, "1 party \N{MULTIPLICATION SIGN} 3 threads on 2 cores"),
    (2, ["l:1", "l:2", "l:3"], 1, LOCAL, "2 parties and 1 dealer on 2 cores"),
    # other hosts: the one with the most parties, taken to have this machine's cores
    (4, ["a:1", "b:1", "b:2", "b:3"], 1, None, "3 parties on 2 cores of host b"),
    (4, ["a:1", "a:2", "b:1", "b:2"], 1, None, None),
    (3, ["a:1", "b:1", "b:2", "b:3"], 1, None, "2 parties and 1 dealer on 2 cores of host b"),
])
def test_what_is_said_when_parties_outnumber_the_cores(monkeypatch, parties, addresses,
                                                       threads, placement, said):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    ctx = _context(parties, addresses, threads)
    assert record.oversubscription(ctx, placement) == (said and said + SLICED)
