"""The parties' links: SPU's own (the protocol's traffic, counted by the kernel) and a
control link beside it (barriers and the settling of the counters, not counted), and
shares sent over SPU's link.

Both are SPU's brpc links. The protocol's link listens on the party's address from the
run; the control link on a free port of the same host, which the parties tell each
other over the protocol's link during setup. SPU's receive timeout is raised far above
any phase: a dead party is the launcher's to name (its heartbeat), not a timeout's.
"""

from __future__ import annotations

import socket
import struct
import time

from spu import libspu
from spu.libspu import link

from ..tcp_counters import TcpCounters, established

#: SPU's receive timeout (ms): longer than any run
RECV_TIMEOUT_MS = 24 * 3600 * 1000
#: how long a party retries connecting to one that has not started listening yet
CONNECT_RETRIES, CONNECT_INTERVAL_MS = 600, 200
#: most reads of the TCP counters while waiting for bytes in flight, and the pause
#: between two reads (no party sending in it: the link is quiet)
_SETTLE_TRIES, _QUIET_S = 1000, 0.002


def _desc(addresses: list[str]) -> link.Desc:
    desc = link.Desc()
    for rank, address in enumerate(addresses):
        desc.add_party(f"party{rank}", address)
    desc.recv_timeout_ms = RECV_TIMEOUT_MS
    desc.http_timeout_ms = RECV_TIMEOUT_MS
    desc.connect_retry_times = CONNECT_RETRIES
    desc.connect_retry_interval_ms = CONNECT_INTERVAL_MS
    return desc


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def pack(share: libspu.Share) -> bytes:
    """One message of a share: its meta and chunks, each after its length."""
    parts = [share.meta, *share.share_chunks]
    return struct.pack(f"<I{len(parts)}Q", len(parts), *map(len, parts)) + b"".join(parts)


def unpack(blob: bytes) -> libspu.Share:
    """The share of a :func:`pack` message (or of a saved one)."""
    count, = struct.unpack_from("<I", blob)
    sizes = struct.unpack_from(f"<{count}Q", blob, 4)
    at, parts = 4 + 8 * count, []
    for size in sizes:
        parts.append(blob[at:at + size])
        at += size
    share = libspu.Share()
    share.meta, share.share_chunks = parts[0], parts[1:]
    return share


class Links:
    """This party's protocol link (:attr:`data`), its control link and the kernel's
    counters of the protocol link's connections."""

    def __init__(self, addresses: list[str], rank: int) -> None:
        start = time.perf_counter()
        before = established()
        self.data = link.create_brpc(_desc(addresses), rank)
        self.tcp = TcpCounters(established() - before)
        host = addresses[rank].rsplit(":", 1)[0]
        ports = self.data.all_gather(str(_free_port(host)))
        control = [f"{a.rsplit(':', 1)[0]}:{p}" for a, p in zip(addresses, ports, strict=True)]
        self._control = link.create_brpc(_desc(control), rank)
        #: seconds spent connecting both links
        self.seconds = time.perf_counter() - start

    def barrier(self) -> None:
        """Wait for every party, on the control link."""
        self._control.barrier()

    def settled(self) -> tuple[int, int]:
        """Bytes sent and received on the protocol link, read when every byte any party
        sent has arrived and no reply is still to come: all parties read together (at
        the same points of every party) and exchange ``sent - received`` and ``sent`` over
        the control link until the gaps sum to zero and no party sent anything since the
        last read. (brpc answers every message it receives, from its own threads: an
        answer can leave just after its message was counted as received.)"""
        last = None
        for _ in range(_SETTLE_TRIES):
            sent, received = self.tcp.read()
            gathered = [tuple(map(int, g.split())) for g in
                        self._control.all_gather(f"{sent - received} {sent}")]
            every = [s for _, s in gathered]
            if sum(g for g, _ in gathered) == 0 and every == last:
                break
            last = every
            time.sleep(_QUIET_S)
        return sent, received

    def send_share(self, to: int, share: libspu.Share) -> None:
        """Send ``share`` to party ``to`` over the protocol link."""
        self.data.send(to, pack(share))

    def recv_share(self, frm: int) -> libspu.Share:
        """The share party ``frm`` sends with :meth:`send_share`."""
        return unpack(self.data.recv(frm))

    def close(self) -> None:
        """Stop both links."""
        self._control.stop_link()
        self.data.stop_link()
