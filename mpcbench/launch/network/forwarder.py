"""The userspace link emulator: IPv4 packets between TUN devices through per-link shapers.

Every packet read from host ``src``'s TUN device goes to the host owning its IPv4
destination, through the :class:`LinkShaper` of that ordered pair: random loss, a token
bucket for the rate (with a bounded queue, tail drop) and a delay line with jitter that
keeps each link FIFO. One select loop serves every device and a heap keyed by release time.

:class:`~.emulator.Emulator` runs this module as its own process
(``python -m mpcbench.launch.network.forwarder CONFIG_JSON``) with the TUN file
descriptors, then writes requests (``set``, ``stats``, ``stop``) as JSON lines on its
standard input, each answered by one JSON line on standard output. If standard input
closes without ``stop`` the owner has died: the forwarder removes the namespaces itself
and exits (so it does on SIGTERM or an error), and its TUN devices vanish with it.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import json
import os
import random
import select
import signal
import socket
import sys
from time import monotonic
from typing import Any

from . import namespaces
from .priority import raise_priority
from .profiles import Link

#: largest packet a TUN device can hand over (the MTU is at most 65535)
MAX_PACKET = 65536
#: packets read from one device before serving the others
BATCH = 64
PR_SET_TIMERSLACK = 29
#: weight of the newest sample in the moving average of wake-up lateness, and the
#: largest sample it takes (a descheduled forwarder must not make it spin)
LATENESS_GAIN = 0.1
MAX_EARLY_S = 1e-4
#: longest sleep while packets wait: a busy scheduler wakes long sleepers late
MAX_SLEEP_S = 1e-3


class LinkShaper:
    """One direction of one host pair: loss, then token bucket, then delay line."""

    __slots__ = ("burst_s", "bytes", "last_release", "link", "lost", "packets", "queue_drops",
                 "queue_s", "tat")

    def __init__(self, link: Link, mtu: int) -> None:
        self.packets = self.bytes = self.lost = self.queue_drops = 0
        #: theoretical arrival time of the token bucket (GCRA form)
        self.tat = 0.0
        self.last_release = 0.0
        self.configure(link, mtu)

    def configure(self, link: Link, mtu: int) -> None:
        self.link = link
        if link.rate_bps:
            burst_bits = max(2 * mtu * 8, link.rate_bps * 1e-3)
            self.burst_s = burst_bits / link.rate_bps
            self.queue_s = link.queue_s(mtu)

    def release_time(self, now: float, size: int) -> float | None:
        """When a packet of ``size`` bytes arriving ``now`` leaves the link, or None if dropped."""
        link = self.link
        if link.loss and random.random() < link.loss:
            self.lost += 1
            return None
        depart = now
        if link.rate_bps:
            tat = max(self.tat, now) + size * 8 / link.rate_bps
            depart = max(now, tat - self.burst_s)
            if depart - now > self.queue_s:
                self.queue_drops += 1
                return None
            self.tat = tat
        delay = link.delay_s
        if link.jitter_s:
            delay = max(0.0, delay + random.uniform(-link.jitter_s, link.jitter_s))
        release = max(depart + delay, self.last_release)
        self.last_release = release
        self.packets += 1
        self.bytes += size
        return release

    def stats(self) -> dict[str, int]:
        return {"packets": self.packets, "bytes": self.bytes, "lost": self.lost,
                "queue_drops": self.queue_drops}


class Forwarder:
    """Moves packets between the TUN devices ``fds`` (host ``i`` has ``addresses[i]``)."""

    def __init__(self, fds: list[int], addresses: list[str], links: list[list[Link | None]],
                 mtu: int) -> None:
        self.fds = fds
        self.mtu = mtu
        self.rank_of = {socket.inet_aton(a): i for i, a in enumerate(addresses)}
        self.shapers = [[LinkShaper(link, mtu) if link else None for link in row]
                        for row in links]
        self.heap: list[tuple[float, int, int, bytes]] = []
        self.seq = itertools.count()
        #: how late select() wakes up (moving average); the loop wakes this much early
        self.lateness = 0.0
        #: packets written, and how late after their release time (sum, worst)
        self.released = 0
        self.late_sum = self.late_max = 0.0
        for fd in fds:
            os.set_blocking(fd, False)

    def release_due(self) -> float | None:
        """Write every packet whose time has come; return the wait until the next one."""
        heap = self.heap
        while heap:
            now = monotonic()
            if heap[0][0] > now:
                return heap[0][0] - now
            release, _, fd, packet = heapq.heappop(heap)
            late = now - release
            self.released += 1
            self.late_sum += late
            self.late_max = max(self.late_max, late)
            try:
                os.write(fd, packet)
            except OSError:
                pass  # the receiving stack refused it: a drop, like a full NIC queue
        return None

    def read(self, src: int) -> None:
        """Take up to :data:`BATCH` packets from host ``src`` into the delay line."""
        fd = self.fds[src]
        row = self.shapers[src]
        for _ in range(BATCH):
            try:
                packet = os.read(fd, MAX_PACKET)
            except BlockingIOError:
                return
            if len(packet) < 20 or packet[0] >> 4 != 4:
                continue  # not IPv4 (e.g. IPv6 router solicitations)
            dst = self.rank_of.get(packet[16:20])
            if dst is None or row[dst] is None:
                continue
            release = row[dst].release_time(monotonic(), len(packet))
            if release is not None:
                heapq.heappush(self.heap, (release, next(self.seq), self.fds[dst], packet))

    def request(self, req: dict[str, Any]) -> dict[str, Any]:
        if req["op"] == "set":
            self.shapers[req["src"]][req["dst"]].configure(Link(**req["link"]), self.mtu)
            return {"ok": True}
        if req["op"] == "stats":
            return {"ok": True, "released": self.released,
                    "late_mean_s": self.late_sum / max(1, self.released),
                    "late_max_s": self.late_max, "links": [
                {"src": s, "dst": d, **shaper.stats()}
                for s, row in enumerate(self.shapers) for d, shaper in enumerate(row) if shaper]}
        return {"ok": False, "error": f"unknown request {req['op']!r}"}

    def serve(self, control: int, reply: Any) -> bool:
        """Run until ``stop`` (True) or until ``control`` closes (False)."""
        src_of = {fd: i for i, fd in enumerate(self.fds)}
        readers = [*self.fds, control]
        pending = b""
        while True:
            timeout = self.release_due()
            if timeout is not None:
                timeout = min(max(0.0, timeout - self.lateness), MAX_SLEEP_S)
                wake = monotonic() + timeout
            ready, _, _ = select.select(readers, [], [], timeout)
            if not ready and timeout:
                late = min(monotonic() - wake, MAX_EARLY_S)
                self.lateness += LATENESS_GAIN * (late - self.lateness)
            for fd in ready:
                if fd != control:
                    self.read(src_of[fd])
                    continue
                chunk = os.read(control, 65536)
                if not chunk:
                    return False
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    req = json.loads(line)
                    if req["op"] == "stop":
                        return True
                    reply.write(json.dumps(self.request(req)) + "\n")
                    reply.flush()


def _exit(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit)
    config = json.loads(sys.argv[1])
    # wake up on time for sub-millisecond delays (the default slack is 50 us), and before
    # the parties: a real network does not wait for the hosts' CPUs
    ctypes.CDLL(None).prctl(PR_SET_TIMERSLACK, 1)
    priority = raise_priority()
    links = [[Link(**link) if link else None for link in row] for row in config["links"]]
    forwarder = Forwarder(config["fds"], config["addresses"], links, config["mtu"])
    print(json.dumps({"ok": True, "pid": os.getpid(), "priority": priority}), flush=True)
    stopped = False
    try:
        stopped = forwarder.serve(sys.stdin.fileno(), sys.stdout)
    finally:
        if not stopped:  # the owner died, or this process was killed or failed
            for name in config["namespaces"]:
                namespaces.remove(name)


if __name__ == "__main__":
    main()
