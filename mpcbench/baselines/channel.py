"""A counted TCP connection between the client and the server of a split baseline."""

from __future__ import annotations

import socket
import time

import numpy as np
import torch


class Channel:
    """Tensors of known shape and dtype over one socket; counts bytes and messages."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sent = self.received = self.messages = 0

    @classmethod
    def listen(cls, address: str, timeout_s: float = 60.0) -> Channel:
        """Accept one connection on ``host:port``."""
        host, port = address.rsplit(":", 1)
        with socket.create_server((host, int(port))) as server:
            server.settimeout(timeout_s)
            sock, _ = server.accept()
        return cls(cls._tune(sock))

    @classmethod
    def connect(cls, address: str, timeout_s: float = 60.0) -> Channel:
        """Connect to ``host:port``, retrying until the peer listens."""
        host, port = address.rsplit(":", 1)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return cls(cls._tune(socket.create_connection((host, int(port)), timeout_s)))
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @staticmethod
    def _tune(sock: socket.socket) -> socket.socket:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        return sock

    def send(self, t: torch.Tensor) -> None:
        """Send the raw bytes of ``t``."""
        buf = t.detach().contiguous().numpy().tobytes()
        self.sock.sendall(buf)
        self.sent += len(buf)
        self.messages += 1

    def recv(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """Receive a tensor of ``shape`` and ``dtype``."""
        np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
        buf = bytearray(int(np.prod(shape)) * np_dtype.itemsize)
        view, got = memoryview(buf), 0
        while got < len(buf):
            n = self.sock.recv_into(view[got:])
            if n == 0:
                raise ConnectionError("peer closed the connection")
            got += n
        self.received += len(buf)
        return torch.from_numpy(np.frombuffer(buf, dtype=np_dtype).reshape(shape).copy())

    def barrier(self) -> None:
        """Wait until the peer reaches its barrier too."""
        self.sock.sendall(b"\0")
        if self.sock.recv(1) != b"\0":
            raise ConnectionError("peer closed the connection")

    def close(self) -> None:
        self.sock.close()
