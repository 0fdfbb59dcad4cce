"""Was a run measured alone? What else used this machine while its parties ran.

Two signs, both read from this machine's kernel (psutil) while the run's parties run:

* other measurements: party processes of another run (``mpcbench.parties.worker`` with
  another ``--run``), e.g. a second sweep on the same machine;
* CPU time used outside this run: the machine's busy CPU time less that of the launcher
  and everything it started (parties, their pulses, an emulated network's forwarder),
  as a share of the machine's capacity over the run.

A run with either (the share above :data:`FOREIGN_SHARE`) is **contended**: its times
include waiting for cores others used, like an oversubscribed run's, and it is marked so.
"""

from __future__ import annotations

import os
import time

import psutil

#: a run is contended when CPU time outside it exceeds this share of the machine
FOREIGN_SHARE = 0.1
#: how a party program shows in a process's command line
PARTY_PROGRAM = "mpcbench.parties.worker"


def _busy_s() -> float:
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)


def _own_s() -> float:
    """CPU seconds of this process, its reaped children and its live descendants."""
    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in me.children(recursive=True):
        try:
            c = child.cpu_times()
        except psutil.Error:  # gone meanwhile: its time is in its parent's children_*
            continue
        total += c.user + c.system
    return total


def _run_of(cmdline: list[str]) -> str | None:
    return cmdline[cmdline.index("--run") + 1] if "--run" in cmdline[:-1] else None


class Neighbours:
    """What else ran on this machine during run ``run_id``; :meth:`sample` while it runs."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        #: pids of other runs' party processes seen
        self.other_parties: set[int] = set()
        self._start = (time.monotonic(), _busy_s(), _own_s())
        self._end: tuple[float, float, float] | None = None

    def sample(self) -> None:
        """Look for other runs' party processes."""
        for proc in psutil.process_iter(["cmdline"]):
            cmd = proc.info["cmdline"] or []
            if any(PARTY_PROGRAM in c for c in cmd) and _run_of(cmd) != self.run_id:
                self.other_parties.add(proc.pid)

    def stop(self) -> None:
        """The run's parties are gone: close the CPU account."""
        self._end = (time.monotonic(), _busy_s(), _own_s())

    @property
    def foreign_share(self) -> float:
        """CPU time used outside this run, as a share of the machine over the run."""
        end = self._end or (time.monotonic(), _busy_s(), _own_s())
        wall, busy, own = (e - s for e, s in zip(end, self._start, strict=True))
        if wall <= 0:
            return 0.0
        return max(0.0, busy - own) / (wall * (os.cpu_count() or 1))

    @property
    def contended(self) -> bool:
        """Whether another measurement or other work shared this machine with the run."""
        return bool(self.other_parties) or self.foreign_share > FOREIGN_SHARE

    def record(self) -> dict[str, object]:
        """What the run's record keeps."""
        return {"other_parties": len(self.other_parties),
                "foreign_cpu_share": round(self.foreign_share, 3)}
