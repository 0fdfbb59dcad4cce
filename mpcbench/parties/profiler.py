"""In-party profiler: phases as context managers recording time, CPU, memory and traffic.

``with prof.phase("infer", repeat=r):`` adds the span's wall and CPU time, the peak RSS
seen during it (sampled by a background thread) and the change of the backend's
communication counters to the sample of ``(repeat, phase)``. Repeated entries of the same
phase in one repeat (one per batch) accumulate. Statistics are computed later, from the
rows, by ``mpcbench.results``.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from .base import CommCounters


@dataclass
class PhaseSample:
    """Accumulated measurements of one phase in one repeat."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_bytes: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    rounds: int = 0


class _RssSampler(threading.Thread):
    """Polls this process's RSS and keeps the maximum for every open phase."""

    def __init__(self, interval_s: float) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.interval_s = interval_s
        self._proc = psutil.Process()
        self._open: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def open(self) -> int:
        rss = self._proc.memory_info().rss
        with self._lock:
            key = max(self._open, default=0) + 1
            self._open[key] = rss
        return key

    def close(self, key: int) -> int:
        rss = self._proc.memory_info().rss
        with self._lock:
            return max(self._open.pop(key), rss)

    def run(self) -> None:
        while not self._stop.wait(self.interval_s):
            rss = self._proc.memory_info().rss
            with self._lock:
                for key, peak in self._open.items():
                    self._open[key] = max(peak, rss)

    def stop(self) -> None:
        self._stop.set()


class Profiler:
    """Records :class:`PhaseSample` per ``(repeat, phase)``."""

    def __init__(
        self,
        counters: Callable[[], CommCounters],
        barrier: Callable[[], None] | None = None,
        interval_s: float = 0.005,
    ) -> None:
        self._counters = counters
        self._barrier = barrier
        self.samples: dict[tuple[int, str], PhaseSample] = {}
        self._sampler = _RssSampler(interval_s)
        self._sampler.start()

    @contextmanager
    def phase(self, name: str, repeat: int = 0, sync: bool = True) -> Iterator[None]:
        """Measure the enclosed block as phase ``name`` of ``repeat``.

        With ``sync`` every party passes a barrier first, so all time the same span.
        """
        if sync and self._barrier is not None:
            self._barrier()
        key = self._sampler.open()
        c0 = self._counters()
        t0, p0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            wall, cpu = time.perf_counter() - t0, time.process_time() - p0
            c1 = self._counters()
            s = self.samples.setdefault((repeat, name), PhaseSample())
            s.wall_s += wall
            s.cpu_s += cpu
            s.peak_rss_bytes = max(s.peak_rss_bytes, self._sampler.close(key))
            s.bytes_sent += c1.bytes_sent - c0.bytes_sent
            s.bytes_received += c1.bytes_received - c0.bytes_received
            s.rounds += c1.rounds - c0.rounds

    @staticmethod
    def max_rss_bytes() -> int:
        """Lifetime peak RSS of this process.

        Read from ``VmHWM``: ``ru_maxrss`` survives ``execve``, so a party started by a
        large launcher would report the launcher's peak.
        """
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def close(self) -> None:
        """Stop the memory sampler."""
        self._sampler.stop()
