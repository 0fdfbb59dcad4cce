"""Is a running party alive? What the launcher knows of it, and when it says it is not.

Two sources, the stronger first:

* the kernel of this machine, for a party on it (local and emulated hosts): the state of
  its process in ``/proc``. A party the kernel runs or lets wait is alive however slowly
  it is scheduled (16 parties on 2 cores); state ``T`` (stopped by a signal, SIGSTOP)
  or ``t`` (by a tracer) held for :data:`STOPPED_S` is what "stopped" means.
* its heartbeats (:mod:`mpcbench.parties.pulse`), for a party on another host: they come
  from a process beside the party and carry what that host's kernel says of it (state,
  CPU time, load). A state ``T`` there is named the same way. If the beats stop, the
  launcher says what it observed — how long no beat came, from which host, how loaded
  that host was at the last beat — after :data:`SILENT_S`, longer on a loaded host
  (:func:`silence_allowed`); a party that never beat is named after :data:`STARTUP_S`.

Time is counted on an :class:`AttentiveClock`: time this launcher itself was not running
(starved, suspended) is no party's silence.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from ..parties.pulse import STOPPED, Beat, kernel_state

#: a party whose kernel state says stopped for this long is named as stopped
STOPPED_S = 2.0
#: a remote party silent this long, times its host's load per core (from 1 to
#: :data:`LOAD_FACTOR_MAX`), is named
SILENT_S = 6.0
LOAD_FACTOR_MAX = 3.0
#: time a remote party gets from its start to its first heartbeat (ssh login, imports)
STARTUP_S = 60.0
#: a launcher poll later than this is the launcher's lateness, not the parties' time
LATE_S = 1.0


class AttentiveClock:
    """Monotonic time less the time this launcher was late between two of its polls."""

    def __init__(self) -> None:
        self._last = time.monotonic()
        #: seconds this launcher was late in all (beyond :data:`LATE_S` per poll)
        self.late_s = 0.0

    def tick(self) -> float:
        """Now, on this clock; call once per poll."""
        now = time.monotonic()
        self.late_s += max(0.0, now - self._last - LATE_S)
        self._last = now
        return now - self.late_s


def silence_allowed(beat: Beat) -> float:
    """Seconds without a heartbeat a remote party gets after ``beat``: :data:`SILENT_S`,
    more on a host whose load exceeds its cores (its processes wait for a core)."""
    per_core = beat.load / beat.cores if beat.cores and not math.isnan(beat.load) else 1.0
    return SILENT_S * min(LOAD_FACTOR_MAX, max(1.0, per_core))


def _done(steps: int) -> str:
    return f"{steps} batch{'' if steps == 1 else 'es'} done"


def _stopped_how(state: str) -> str:
    return "stopped by a signal" if state == "T" else "stopped by a tracer"


@dataclass
class Liveness:
    """What the launcher knows of one party: its beats and, on this machine, its process."""

    #: the host the party runs on, as its rows name it
    host: str
    #: when it started (attentive clock)
    started: float
    #: its process id on this machine, read in ``/proc``; None for a party on another host
    pid: int | None = None
    #: the last heartbeat and when it was read (attentive clock)
    beat: Beat | None = None
    beat_at: float | None = None
    #: since when a kernel has reported it stopped
    stopped_since: float | None = None
    #: the longest time between two of its beats, and the highest load they reported
    longest_gap_s: float = 0.0
    loads: list[float] = field(default_factory=list)

    @property
    def step(self) -> int:
        """Batches (or steps) done, as of its last beat."""
        return self.beat.step if self.beat else 0

    def heard(self, beat: Beat, now: float) -> None:
        """Note a heartbeat read at ``now``."""
        if self.beat_at is not None:
            self.longest_gap_s = max(self.longest_gap_s, now - self.beat_at)
        self.beat, self.beat_at = beat, now
        if not math.isnan(beat.load):
            self.loads.append(beat.load)

    def _state(self) -> str | None:
        if self.pid is not None:
            found = kernel_state(self.pid)
            return found[0] if found else None
        return self.beat.state if self.beat else None

    def verdict(self, now: float) -> str | None:
        """Why the party is taken as not alive at ``now``, in what was observed; or None."""
        state = self._state()
        if state is None or state not in STOPPED:
            self.stopped_since = None
        elif self.stopped_since is None:
            self.stopped_since = now
        elif now - self.stopped_since >= STOPPED_S:
            kernel = "" if self.pid is not None else f" of host {self.host}"
            return (f"is stopped: the kernel{kernel} reports it {_stopped_how(state)} "
                    f"(state {state}) for {now - self.stopped_since:.0f} s, "
                    f"{_done(self.step)}")
        if self.pid is not None:  # the kernel says it runs or waits: alive
            return None
        if self.beat is None or self.beat_at is None:
            if now - self.started > STARTUP_S:
                return (f"sent no heartbeat in the {STARTUP_S:g} s since its start "
                        f"(host {self.host})")
            return None
        beat, silent = self.beat, now - self.beat_at
        if silent <= silence_allowed(beat):
            return None
        seen = (f"load {beat.load:.1f} on {beat.cores} cores, party state {beat.state}"
                if beat.cores else "")
        return (f"sent no heartbeat for {silent:.0f} s from host {self.host} (at its last "
                f"beat: {seen + ', ' if seen else ''}{_done(beat.step)})")

    def summary(self) -> str:
        """Its progress and, on this machine, its process state and CPU time."""
        found = kernel_state(self.pid) if self.pid is not None else None
        if found is None:
            return str(self.step)
        return f"{self.step} (state {found[0]}, {found[1]:.1f} CPU s)"

    def record(self) -> dict[str, object]:
        """What a run's record keeps: the longest gap between beats, the highest load."""
        cores = self.beat.cores if self.beat else None
        return {"host": self.host, "longest_beat_gap_s": round(self.longest_gap_s, 2),
                "max_load": max(self.loads) if self.loads else None, "cores": cores}
