"""Fidelity probe: measured RTT and throughput of the emulated links, next to the requested.

RTT is the median of TCP ping-pongs (1 byte each way, Nagle off) after one warm-up;
throughput is a bulk TCP transfer bounded by time (0.5 s, longer on links with a long
RTT) and bytes (32 MiB), with socket buffers sized to the link (:func:`window`), taken
at the receiver over the second half of the transfer (after TCP's ramp-up). Both run
from the hosts' own network stacks, with a raised priority (:mod:`.priority`) for the
pings and the bulk receiver, so that a busy machine delays them little. To stay cheap
with many hosts, runs with more than :data:`ALL_PAIRS_UP_TO` hosts probe RTT only
between rank 0 and every host and between neighbouring ranks, and throughput on one
pair per distinct requested link; the result says which.
"""

from __future__ import annotations

import select
import socket
import statistics
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress
from time import perf_counter
from typing import TYPE_CHECKING, Any

from .emulator import NetworkError
from .hosts import Host
from .priority import raised
from .profiles import Link

if TYPE_CHECKING:
    from .emulator import Emulator

ALL_PAIRS_UP_TO = 3
PINGS = 9
BULK_S = 0.5
#: a bulk transfer lasts at least this many requested RTTs (TCP's ramp-up), up to MAX_BULK_S
RAMP_RTTS = 12
MAX_BULK_S = 2.0
BULK_BYTES = 32 << 20
TIMEOUT_S = 5.0
#: requested RTT from which pings run at real-time priority (their 0.1 ms cost is small)
REALTIME_PINGS_S = 1e-3
#: expected time of sequential pings above which the pairs are pinged in parallel
PARALLEL_PINGS_S = 1.0
#: bounds of the socket buffers of bulk transfers (see :func:`window`; the kernel caps
#: them at net.core.[rw]mem_max)
MIN_BUFFER = 256 << 10
MAX_BUFFER = 4 << 20
_CHUNK = 1 << 20
#: receive size: small, so that receive times follow arrivals closely
_RECV = 64 << 10
#: longest nap while a ping waits for its answer
_NAP_S = 1e-3
#: how often a blocked sender checks whether the receiver is done
_SEND_POLL_S = 0.05


def _connected(src: Host, dst: Host, stack: ExitStack,
               buffer: int | None = None) -> tuple[socket.socket, socket.socket]:
    """A TCP connection from ``src`` to ``dst``: (client end, server end), Nagle off.

    With ``buffer``, both ends get that much socket buffer, so the window covers a
    link's bandwidth-delay product from the start instead of growing with autotuning.
    """
    server = stack.enter_context(dst.socket())
    if buffer:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
    server.bind((dst.address, 0))
    server.listen(1)
    client = stack.enter_context(src.socket())
    if buffer:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)
    client.settimeout(TIMEOUT_S)
    server.settimeout(TIMEOUT_S)
    try:
        client.connect(server.getsockname())
        conn = stack.enter_context(server.accept()[0])
    except OSError as err:
        raise NetworkError(f"probe {src.rank} -> {dst.rank}: cannot connect ({err})") from None
    conn.settimeout(TIMEOUT_S)
    for end in (client, conn):
        end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client, conn


def _recv_byte(sock: socket.socket) -> None:
    """Wait for one byte in short naps: a busy scheduler wakes long sleepers late."""
    deadline = perf_counter() + TIMEOUT_S
    while not select.select([sock], [], [], _NAP_S)[0]:
        if perf_counter() > deadline:
            raise TimeoutError("no answer")
    if not sock.recv(1):
        raise ConnectionResetError("connection closed")


def rtt(src: Host, dst: Host, pings: int = PINGS, realtime: bool = False) -> float:
    """Median round-trip time ``src`` -> ``dst`` -> ``src`` in seconds.

    ``realtime`` pings at real-time priority: steady on a busy machine, but each ping
    takes about 0.1 ms longer (:mod:`.priority`), so :func:`probe` uses it for long
    links only.
    """
    with ExitStack() as stack:
        stack.enter_context(raised(realtime))
        client, conn = _connected(src, dst, stack)
        samples = []
        try:
            for _ in range(pings + 1):
                start = perf_counter()
                client.sendall(b"p")
                _recv_byte(conn)
                conn.sendall(b"q")
                _recv_byte(client)
                samples.append(perf_counter() - start)
        except OSError as err:
            raise NetworkError(f"probe {src.rank} -> {dst.rank}: ping failed ({err})") from None
    return statistics.median(samples[1:])


def throughput(src: Host, dst: Host, seconds: float = BULK_S, max_bytes: int = BULK_BYTES,
               buffer: int | None = None) -> float:
    """Bulk TCP rate ``src`` -> ``dst`` in bit/s, over the second half of the transfer.

    The receiver stops after ``seconds`` from its first byte or ``max_bytes``, whichever
    comes first; the connection is then reset, so full send buffers are not drained.
    ``buffer`` is the socket buffer of both ends (see :func:`window`); by default the
    kernel sizes them as the transfer goes, as for any connection.
    """
    marks: list[tuple[float, int]] = []
    done = threading.Event()

    def drain(conn: socket.socket) -> None:
        buf = bytearray(_RECV)
        got, end = 0, None
        # a stalled receiver would read a backlog in a burst and overstate the rate
        with raised(), suppress(OSError):  # a reset or timeout ends the transfer
            while not done.is_set() and (n := conn.recv_into(buf)):
                now = perf_counter()
                marks.append((now, n))
                got += n
                end = end or now + seconds
                if got >= max_bytes or now >= end:
                    break
        done.set()

    with ExitStack() as stack:
        client, conn = _connected(src, dst, stack, buffer)
        receiver = threading.Thread(target=drain, args=(conn,), daemon=True)
        receiver.start()
        chunk = memoryview(bytes(_CHUNK))
        client.settimeout(_SEND_POLL_S)
        try:
            while not done.is_set():
                with suppress(TimeoutError):
                    client.send(chunk)
        except OSError as err:
            raise NetworkError(f"probe {src.rank} -> {dst.rank}: transfer failed ({err})") \
                from None
        finally:
            done.set()
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            receiver.join(TIMEOUT_S)
    if len(marks) < 2:
        raise NetworkError(f"probe {src.rank} -> {dst.rank}: nothing arrived")
    # from the first receive past half time to the last: bytes that arrived in between
    # (the whole transfer if nothing but the last receive came after half time)
    first, last = marks[0][0], marks[-1][0]
    since = next(t for t, _ in marks if t >= (first + last) / 2)
    if since == last:
        since = first
    return sum(n for t, n in marks if t > since) * 8 / (last - since)


def _pairs(parties: int) -> tuple[list[tuple[int, int]], str]:
    if parties <= ALL_PAIRS_UP_TO:
        return [(a, b) for a in range(parties) for b in range(parties) if a < b], "all pairs"
    pairs = {(0, b) for b in range(1, parties)} | {(a, a + 1) for a in range(parties - 1)}
    return sorted(pairs), "rank 0 with every rank, and neighbouring ranks"


def window(there: Link, back: Link, mtu: int) -> int:
    """Socket buffer for a bulk transfer over ``there`` (``back`` carries its ACKs).

    Half a bandwidth-delay product plus half the link's queue: the kernel lets TCP keep
    up to about twice its socket buffer in flight, so this keeps the link busy (also on
    short links, where queueing is most of the RTT) without overflowing its queue, and
    the transfer measures the rate rather than TCP's recovery from drops.
    """
    if there.rate_bps is None:
        return MAX_BUFFER
    bdp = there.rate_bps / 8 * (there.delay_s + back.delay_s)
    queue = there.rate_bps / 8 * there.queue_s(mtu)
    return max(MIN_BUFFER, min(int(bdp / 2 + queue / 2), MAX_BUFFER))


def _requested_rtt(emu: Emulator, src: int, dst: int) -> float:
    return emu.link(src, dst).delay_s + emu.link(dst, src).delay_s


def _bulk_seconds(emu: Emulator, src: int, dst: int, seconds: float) -> float:
    """``seconds``, or long enough for TCP to ramp up on a long link (at most 2 s)."""
    return max(seconds, min(RAMP_RTTS * _requested_rtt(emu, src, dst), MAX_BULK_S))


def probe(emu: Emulator, pings: int = PINGS, seconds: float = BULK_S,
          max_bytes: int = BULK_BYTES, ceiling: bool = True) -> dict[str, Any]:
    """Requested vs measured RTT and throughput per probed ordered pair (plus the ceiling)."""
    hosts = emu.hosts
    pairs, rtt_scope = _pairs(len(hosts))
    # pings run in parallel only when sequential ones would be slow: threads waiting for
    # each other's interpreter lock would add to sub-millisecond RTTs
    expected = sum((pings + 2) * _requested_rtt(emu, a, b) for a, b in pairs)
    with ThreadPoolExecutor(max_workers=1 if expected < PARALLEL_PINGS_S else 8) as pool:
        measured = pool.map(lambda p: rtt(hosts[p[0]], hosts[p[1]], pings,
                                          _requested_rtt(emu, *p) >= REALTIME_PINGS_S), pairs)
        rtts = dict(zip(pairs, measured, strict=True))
    ordered = sorted([*pairs, *((b, a) for a, b in pairs)])
    if len(hosts) <= ALL_PAIRS_UP_TO:
        bulk, bulk_scope = ordered, "every probed pair"
    else:
        first: dict[Link, tuple[int, int]] = {}
        for pair in ordered:
            first.setdefault(emu.link(*pair), pair)
        bulk, bulk_scope = sorted(first.values()), "one pair per distinct requested link"
    rates = {p: throughput(hosts[p[0]], hosts[p[1]], _bulk_seconds(emu, *p, seconds),
                           max_bytes, window(emu.link(*p), emu.link(p[1], p[0]), emu.mtu))
             for p in bulk}
    rows = []
    for a, b in ordered:
        there, back = emu.link(a, b), emu.link(b, a)
        rows.append({"src": a, "dst": b,
                     "requested_delay_s": there.delay_s,
                     "requested_rtt_s": there.delay_s + back.delay_s,
                     "measured_rtt_s": rtts[(min(a, b), max(a, b))],
                     "requested_rate_bps": there.rate_bps,
                     "measured_rate_bps": rates.get((a, b)),
                     "bulk_s": _bulk_seconds(emu, a, b, seconds) if (a, b) in rates else None})
    return {"rtt_pairs": rtt_scope, "throughput_pairs": bulk_scope, "pings": pings,
            "bulk_max_bytes": max_bytes, "links": rows,
            "ceiling_bps": measure_ceiling(emu, seconds, max_bytes) if ceiling else None}


def measure_ceiling(emu: Emulator, seconds: float = BULK_S,
                    max_bytes: int = BULK_BYTES) -> float:
    """The emulator's own limit: bulk rate 0 -> 1 with both directions between hosts 0
    and 1 made ideal for the test (the way back carries the ACKs).

    Also kept as ``emu.ceiling_bps``, so :meth:`Emulator.describe` records it.
    """
    requested = {pair: emu.link(*pair) for pair in ((0, 1), (1, 0))}
    try:
        for pair in requested:
            emu.set_link(*pair, Link())
        emu.ceiling_bps = throughput(emu.hosts[0], emu.hosts[1], seconds, max_bytes,
                                     MAX_BUFFER)
    finally:
        for pair, link in requested.items():
            emu.set_link(*pair, link)
    return emu.ceiling_bps
