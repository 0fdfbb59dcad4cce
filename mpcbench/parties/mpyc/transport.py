"""MPyC's peer connections with byte counters in both directions.

MPyC counts only the bytes each connection sends (``nbytes_sent``, as printed by
``Runtime.shutdown``). :func:`install` makes the runtime build its connections from a
subclass that also counts the bytes of every message it hands to the runtime (header
plus payload, when the message is consumed) and the messages it sends. Barrier tokens
(:data:`TOKEN` messages) are counted in neither direction, nor is the connection
handshake, so over a run the bytes all parties send equal the bytes they receive.
Import only after the MPyC runtime is set up: importing ``mpyc`` parses ``sys.argv``.
"""

from __future__ import annotations

import pickle
from asyncio import Future

from mpyc import asyncoro

#: payload of a barrier token (``runtime.transfer(None)``)
TOKEN = pickle.dumps(None)
#: bytes MPyC puts before every payload (program counter and payload size)
HEADER = 12


class CountingExchanger(asyncoro.MessageExchanger):
    """A peer connection that also counts received bytes and sent messages."""

    __slots__ = "messages_sent", "nbytes_received"

    def __init__(self, rt, peer_pid=None):
        super().__init__(rt, peer_pid)
        self.nbytes_received = 0
        self.messages_sent = 0

    def send(self, pc, payload):
        """Send as MPyC does; a barrier token is taken back out of ``nbytes_sent``."""
        super().send(pc, payload)
        if payload == TOKEN:
            self.nbytes_sent -= HEADER + len(payload)
        else:
            self.messages_sent += 1

    def receive(self, pc):
        """Receive as MPyC does, counting the message once it is there."""
        payload = super().receive(pc)
        if isinstance(payload, Future):
            payload.add_done_callback(lambda f: self._count(f.result()))
        else:
            self._count(payload)
        return payload

    def _count(self, payload: bytes) -> None:
        if payload != TOKEN:
            self.nbytes_received += HEADER + len(payload)


def install() -> None:
    """Make connections opened from now on (by ``Runtime.start``) counting ones."""
    asyncoro.MessageExchanger = CountingExchanger
