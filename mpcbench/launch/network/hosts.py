"""An emulated party host: its namespace, address and hostname, and how to run inside it."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import namespaces


@dataclass(frozen=True)
class Host:
    """Party ``rank``'s host: network namespace ``netns`` with ``address`` on device ``device``.

    A process started through :meth:`popen` (or with ``preexec_fn=host.enter``) lives in
    the namespace and in its own UTS namespace whose hostname is ``name``. A host with
    ``netns=None`` (:meth:`local`) is the launching machine itself, on loopback.
    """

    rank: int
    name: str
    netns: str | None
    address: str
    device: str

    @classmethod
    def local(cls, rank: int) -> Host:
        """Party ``rank`` on this machine's own loopback (no emulated network)."""
        return cls(rank, socket.gethostname(), None, "127.0.0.1", "lo")

    def enter(self) -> None:
        """Move the calling process into this host; meant as ``Popen(preexec_fn=...)``."""
        if self.netns is not None:
            namespaces.enter(self.netns)
            namespaces.unshare_uts(self.name)

    def preexec(self, then: Callable[[], None] | None = None) -> Callable[[], None]:
        """A ``preexec_fn`` that enters this host, then runs ``then`` (if given)."""
        def run() -> None:
            self.enter()
            if then is not None:
                then()
        return run

    def popen(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen:
        """``subprocess.Popen(args, **kwargs)`` inside this host."""
        kwargs["preexec_fn"] = self.preexec(kwargs.get("preexec_fn"))
        return subprocess.Popen(args, **kwargs)

    def command(self, args: Sequence[str]) -> list[str]:
        """``args`` prefixed to run inside this host from a shell (``ip netns exec`` …)."""
        if self.netns is None:
            return list(args)
        return ["ip", "netns", "exec", self.netns, "unshare", "--uts", "sh", "-c",
                'hostname "$0" && exec "$@"', self.name, *args]

    def socket(self, family: int = socket.AF_INET,
               kind: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket of this host's network stack, made from the calling process."""
        if self.netns is None:
            return socket.socket(family, kind)
        with namespaces.inside(self.netns):
            return socket.socket(family, kind)

    def describe(self) -> dict[str, Any]:
        return {"rank": self.rank, "hostname": self.name, "netns": self.netns,
                "address": self.address, "device": self.device}
