"""Bytes that a process's TCP connections carried, read from the kernel (Linux ``TCP_INFO``).

For a framework whose transport lives in native code (gloo under CrypTen), this is the
one honest byte count: payload plus the transport's own framing, excluding TCP/IP
headers and retransmissions. Sockets are chosen once, as the connections a framework
opened during its setup, e.g.::

    before = established()
    framework.connect()
    counters = TcpCounters(established() - before)
"""

from __future__ import annotations

import os
import socket
import struct

import psutil

# struct tcp_info (include/uapi/linux/tcp.h): __u64 tcpi_bytes_acked at offset 120 and
# tcpi_bytes_received at 128 (Linux >= 4.2); tcpi_bytes_sent at 200 and
# tcpi_bytes_retrans at 208 (Linux >= 4.19). Sent is bytes_sent - bytes_retrans where
# the kernel has it (no lag behind the peer's acknowledgement), else bytes_acked.
_ACKED_RECEIVED = 120
_SENT_RETRANS = 200
_MIN_LEN, _FULL_LEN = 136, 216


#: a connection: file descriptor, local and remote ``(host, port)``
Connection = tuple[int, tuple[str, int], tuple[str, int]]


def established(exclude_ports: tuple[int, ...] = ()) -> set[Connection]:
    """This process's established TCP connections.

    Connections with a local or remote port in ``exclude_ports`` are left out.
    """
    return {
        (c.fd, tuple(c.laddr), tuple(c.raddr))
        for c in psutil.Process().net_connections(kind="tcp")
        if c.status == psutil.CONN_ESTABLISHED
        and c.fd >= 0
        and not {c.laddr.port, c.raddr.port} & set(exclude_ports)
    }


def _tcp_bytes(conn: Connection) -> tuple[int, int] | None:
    """Bytes acknowledged and received on ``conn``; ``None`` once it is closed."""
    fd, local, remote = conn
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:  # closed
        return None
    try:
        if (sock.getsockname()[:2], sock.getpeername()[:2]) != (local, remote):
            return None  # the descriptor now belongs to another socket
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _FULL_LEN)
    except OSError:
        return None
    finally:
        sock.close()
    if len(info) < _MIN_LEN:
        return None
    sent, received = struct.unpack_from("QQ", info, _ACKED_RECEIVED)
    if len(info) >= _FULL_LEN:
        wire, retrans = struct.unpack_from("QQ", info, _SENT_RETRANS)
        sent = wire - retrans
    return sent, received


class TcpCounters:
    """Cumulative bytes sent (acknowledged by the peer) and received on a set of connections.

    A connection that has closed keeps the last counts read from it.
    """

    def __init__(self, conns: set[Connection]) -> None:
        self._last = {conn: (0, 0) for conn in sorted(conns)}

    def available(self) -> bool:
        """Whether there are connections and the kernel reports byte counts for them."""
        return bool(self._last) and all(_tcp_bytes(c) is not None for c in self._last)

    def read(self) -> tuple[int, int]:
        """``(bytes_sent, bytes_received)`` summed over the connections."""
        for conn in self._last:
            counts = _tcp_bytes(conn)
            if counts is not None:
                self._last[conn] = counts
        return self.subtotal(set(self._last))

    def subtotal(self, conns: set[Connection]) -> tuple[int, int]:
        """``(bytes_sent, bytes_received)`` of those of ``conns`` that are counted here, as
        of the last :meth:`read`."""
        counts = [c for conn, c in self._last.items() if conn in conns]
        return sum(s for s, _ in counts), sum(r for _, r in counts)


def local_endpoints(conns: set[Connection]) -> set[tuple[str, int]]:
    """This end's ``(host, port)`` of each connection."""
    return {local for _, local, _ in conns}


def to_others(conns: set[Connection], endpoints: set[tuple[str, int]]) -> set[Connection]:
    """Those of ``conns`` whose far end is not one of ``endpoints`` (another group's
    sockets, e.g. a dealer's when ``endpoints`` are the computing parties')."""
    return {c for c in conns if c[2] not in endpoints}
