"""Loopback port selection for party processes."""

from __future__ import annotations

import errno
import socket
from contextlib import ExitStack

from ..errors import InputError

#: the last TCP port
MAX_PORT = 65535


class PortBusy(InputError):
    """A requested port is already in use."""


def _bind(sock: socket.socket, port: int) -> None:
    sock.bind(("127.0.0.1", port))


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that are free on 127.0.0.1 right now."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            _bind(sock, 0)
            ports.append(sock.getsockname()[1])
        return ports


def check_ports(base: int, count: int) -> list[int]:
    """Ports ``base .. base+count-1``; :class:`PortBusy` names the first one in use (or
    that cannot be bound, e.g. below 1024 for a user), :class:`InputError` a range past
    the last port."""
    if base + count - 1 > MAX_PORT:
        raise InputError(f"--port {base} needs {base}..{base + count - 1}, past the last "
                         f"port {MAX_PORT}")
    ports = list(range(base, base + count))
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                _bind(sock, port)
            except OSError as exc:
                why = ("is busy" if exc.errno == errno.EADDRINUSE
                       else f"cannot be bound ({exc.strerror})")
                raise PortBusy(f"port {port} on 127.0.0.1 {why} (--port {base} needs "
                               f"{base}..{base + count - 1} free)") from None
    return ports
