"""MPyC's peer connections with byte counters in both directions.

MPyC counts only the bytes each connection sends (``nbytes_sent``, as printed by
``Runtime.shutdown``). :func:`install` makes the runtime build its connections from a
subclass that also counts bytes received and messages sent. Import only after the MPyC
runtime is set up: importing ``mpyc`` parses ``sys.argv``.
"""

from __future__ import annotations

from mpyc import asyncoro


class CountingExchanger(asyncoro.MessageExchanger):
    """A peer connection that also counts received bytes and sent messages."""

    __slots__ = "messages_sent", "nbytes_received"

    def __init__(self, rt, peer_pid=None):
        super().__init__(rt, peer_pid)
        self.nbytes_received = 0
        self.messages_sent = 0

    def send(self, pc, payload):
        """Send as MPyC does, counting the message."""
        self.messages_sent += 1
        super().send(pc, payload)

    def data_received(self, data):
        """Receive as MPyC does, counting every byte (including the connection handshake)."""
        self.nbytes_received += len(data)
        super().data_received(data)


def install() -> None:
    """Make connections opened from now on (by ``Runtime.start``) counting ones."""
    asyncoro.MessageExchanger = CountingExchanger
