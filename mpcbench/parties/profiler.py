"""In-party profiler: phases as context managers recording time, CPU, memory and traffic.

``with prof.phase("infer", repeat=r):`` adds the span's wall and CPU time, the peak RSS
during it and the change of the backend's communication counters to the sample of
``(repeat, phase)``. Repeated entries of the same phase in one repeat (one per batch)
accumulate (times and traffic add up, the peak is the largest). Statistics are computed
later, from the rows, by ``mpcbench.results``.

What each number is:

* **peak RSS** is exact, not sampled: at the start of a phase the kernel's high-water
  mark is reset to the current RSS (``5`` written to ``/proc/self/clear_refs``) and at
  its end ``VmHWM`` is read from ``/proc/self/status``. Phases nest (``total`` holds
  ``share``, ...): before an inner phase resets the mark, the mark so far is credited
  to every open phase, so an outer phase's peak is the largest of its inner phases'
  and its own. Where the kernel cannot reset it (not Linux), per-phase peaks are
  missing (NaN); the process's lifetime peak is kept either way.
* **traffic** excludes the barriers that align phase boundaries: the counters are read
  before and after each barrier and what it carried is subtracted from every open
  phase (CrypTen's barrier goes over the same gloo sockets its data does); bytes of a
  phase that arrive only during the next barrier are credited back to it (see
  :meth:`Profiler._sync`), so over a repeat the bytes received by all parties equal
  the bytes sent (per inner phase up to gloo's small control messages, which can be
  credited to a neighbouring phase).
* **rounds** are missing (NaN) when the backend does not count them
  (``CommCounters.rounds is None``), never 0.
* **offline bytes** (``bytes_sent_offline``, ``bytes_received_offline``) are the part of
  the bytes exchanged with a dealer process; barriers never involve one. They are 0 in
  a run without a dealer and missing (NaN) where the backend cannot tell them apart.

With the environment variable :data:`PROFILE_ENV` set to ``0`` the profiler only times
the ``total`` and ``setup`` phases (wall and CPU time, after the same barrier at the
start of ``total``; no inner barriers, no counter or memory probes), so that its own
overhead can be measured (``benchmarks/profiler_overhead.py``); the other phases and
metrics are not recorded (NaN).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .base import CommCounters

#: environment variable switching the per-phase probes off (``0``)
PROFILE_ENV = "MPCBENCH_PROFILE"
#: phases timed even with the probes off
_ALWAYS = ("total", "setup")
_NAN = float("nan")
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass
class PhaseSample:
    """Accumulated measurements of one phase in one repeat (NaN: not measured)."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_bytes: float = 0.0
    bytes_sent: float = 0.0
    bytes_received: float = 0.0
    rounds: float = 0.0
    #: the part of the bytes exchanged with a dealer (the barriers never reach one)
    bytes_sent_offline: float = 0.0
    bytes_received_offline: float = 0.0


_status_fd: int | None = None


def _hwm_bytes() -> int | None:
    """``VmHWM`` of this process (its peak RSS since start or the last reset), in bytes.

    Read with ``pread`` from a descriptor kept open (the kernel regenerates the file at
    offset 0): a tenth of the cost of opening and parsing it line by line."""
    global _status_fd
    try:
        if _status_fd is None:
            _status_fd = os.open(_STATUS, os.O_RDONLY | os.O_CLOEXEC)
        text = os.pread(_status_fd, 8192, 0)
        start = text.index(b"VmHWM:") + 6
        return int(text[start:text.index(b"kB", start)]) * 1024
    except (OSError, ValueError):
        return None


def _reset_hwm() -> bool:
    """Reset the high-water mark to the current RSS; whether the kernel allowed it."""
    try:
        with _CLEAR_REFS.open("w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _rounds(c: CommCounters) -> float:
    return _NAN if c.rounds is None else float(c.rounds)


def _offline(c: CommCounters) -> tuple[float, float]:
    return tuple(_NAN if v is None else float(v) for v in (c.offline_sent, c.offline_received))


class Profiler:
    """Records :class:`PhaseSample` per ``(repeat, phase)``."""

    def __init__(
        self,
        counters: Callable[[], CommCounters],
        barrier: Callable[[], None] | None = None,
        enabled: bool | None = None,
    ) -> None:
        self._counters = counters
        self._barrier = barrier
        self.enabled = os.environ.get(PROFILE_ENV, "1") != "0" if enabled is None else enabled
        self.samples: dict[tuple[int, str], PhaseSample] = {}
        #: peak RSS seen so far by each open phase (innermost last)
        self._open: list[int] = []
        self._lifetime = _hwm_bytes() or 0
        self._exact = self.enabled and _reset_hwm()
        #: traffic of all barriers so far: bytes sent, bytes received, rounds
        self._barriers = (0, 0, 0.0)
        #: samples of the phases closed since the last barrier
        self._closed: list[PhaseSample] = []
        self._synced = False

    def _credit(self) -> None:
        """Credit the current high-water mark to every open phase and to the lifetime."""
        hwm = _hwm_bytes()
        if hwm is None:
            return
        self._lifetime = max(self._lifetime, hwm)
        self._open = [max(peak, hwm) for peak in self._open]

    def _sync(self) -> CommCounters:
        """Pass the barrier, keeping what it carried out of the phase counters.

        A party can close a phase before the last bytes its peers sent in it arrive (gloo's
        control messages at the end of a collective); TCP delivers them before the peers'
        barrier messages, so they are received inside the barrier. The barrier itself is
        symmetric (a dissemination barrier: every party sends what it receives), so what
        this party received beyond what it sent there belongs to the phases before: it is
        credited to those closed since the last barrier and stays in the open ones.
        """
        c0 = self._counters()
        self._barrier()
        c1 = self._counters()
        own = c1.bytes_sent - c0.bytes_sent
        late = max(0, c1.bytes_received - c0.bytes_received - own)
        for sample in self._closed:
            sample.bytes_received += late
        self._closed = []
        sent, received, rounds = self._barriers
        self._barriers = (sent + own, received + own, rounds + _rounds(c1) - _rounds(c0))
        return c1

    @contextmanager
    def phase(self, name: str, repeat: int = 0, sync: bool = True) -> Iterator[None]:
        """Measure the enclosed block as phase ``name`` of ``repeat``.

        With ``sync`` every party passes a barrier first, so all time the same span.
        """
        if not self.enabled:
            yield from self._timed_only(name, repeat, sync)
            return
        c0 = None
        if sync and self._barrier is not None:
            c0 = self._sync()  # the counters right after the barrier start the phase
            self._synced = True
        self._credit()
        if self._exact:
            _reset_hwm()
        self._open.append(0)
        b0 = self._barriers
        c0 = c0 or self._counters()
        t0, p0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            wall, cpu = time.perf_counter() - t0, time.process_time() - p0
            c1 = self._counters()
            b1 = self._barriers
            self._credit()
            peak = self._open.pop()
            s = self.samples.setdefault((repeat, name), PhaseSample())
            s.wall_s += wall
            s.cpu_s += cpu
            s.peak_rss_bytes = max(s.peak_rss_bytes, peak) if self._exact else _NAN
            s.bytes_sent += c1.bytes_sent - c0.bytes_sent - (b1[0] - b0[0])
            s.bytes_received += c1.bytes_received - c0.bytes_received - (b1[1] - b0[1])
            s.rounds += _rounds(c1) - _rounds(c0) - (b1[2] - b0[2])
            (sent0, received0), (sent1, received1) = _offline(c0), _offline(c1)
            s.bytes_sent_offline += sent1 - sent0
            s.bytes_received_offline += received1 - received0
            self._closed.append(s)

    def _timed_only(self, name: str, repeat: int, sync: bool) -> Iterator[None]:
        if name not in _ALWAYS:
            yield
            return
        if sync and self._barrier is not None:
            self._barrier()  # the measured span starts together, as with the probes on
        t0, p0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            wall, cpu = time.perf_counter() - t0, time.process_time() - p0
            s = self.samples.setdefault(
                (repeat, name), PhaseSample(peak_rss_bytes=_NAN, bytes_sent=_NAN,
                                            bytes_received=_NAN, rounds=_NAN,
                                            bytes_sent_offline=_NAN,
                                            bytes_received_offline=_NAN))
            s.wall_s += wall
            s.cpu_s += cpu

    def max_rss_bytes(self) -> int:
        """Lifetime peak RSS of this process.

        Read from ``VmHWM`` (``ru_maxrss`` survives ``execve``, so a party started by a
        large launcher would report the launcher's peak) and kept across the per-phase
        resets of the mark.
        """
        self._credit()
        if self._lifetime:
            return self._lifetime
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def close(self) -> None:
        """Collect the bytes still on their way at the end of the last phase (a final
        barrier, if phases were synchronised; every party calls ``close``) and record the
        last high-water mark. Nothing runs in the background."""
        if self._synced and self._barrier is not None:
            self._sync()
        self._credit()
