"""What the split baselines share: a client (the data owner) and a server, as two party
processes joined by a counted TCP channel, or as one process whose transfers are counted
from the tensor sizes (``estimated``); per-role compute time and bytes per image."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ..parties.base import CommCounters
from ..parties.context import PartyContext
from .backend import BaselineBackend
from .channel import Channel


class ClientServerBackend(BaselineBackend):
    """A baseline whose client sends tensors up to a server and gets tensors back."""

    max_parties = 2

    def __init__(self) -> None:
        self.channel: Channel | None = None
        #: compute seconds per repeat of each role
        self.client_s: dict[int, float] = {}
        self.server_s: dict[int, float] = {}
        self.estimated = CommCounters(method="estimated")

    def setup(self, ctx: PartyContext) -> None:
        super().setup(ctx)
        # the client holds the images and learns the logits (the only roles it takes)
        self.client = ctx.rank == ctx.case.roles.data_owners[0]
        self.server = ctx.parties == 1 or not self.client
        if ctx.parties == 2:
            peer = ctx.addresses[1 - ctx.rank]
            self.channel = (Channel.connect(peer) if self.client
                            else Channel.listen(ctx.addresses[ctx.rank]))

    @contextmanager
    def timed(self, role: dict[int, float]) -> Iterator[None]:
        """Add the time of the block to ``role`` (:attr:`client_s` or :attr:`server_s`)
        for the current repeat; autograd off inside."""
        start = time.perf_counter()
        with torch.no_grad():
            yield
        role[self.repeat] = role.get(self.repeat, 0.0) + time.perf_counter() - start

    def _estimate(self, sent: int = 0, received: int = 0) -> None:
        e = self.estimated
        self.estimated = CommCounters(e.bytes_sent + sent, e.bytes_received + received,
                                      e.rounds + bool(sent), method="estimated")

    def up(self, t: torch.Tensor | None, shape: tuple[int, ...], dtype: torch.dtype
           ) -> torch.Tensor | None:
        """Client -> server: the client's ``t`` arrives at the server (``None`` elsewhere)."""
        if self.client:
            if self.channel:
                self.channel.send(t)
            else:
                self._estimate(sent=t.numel() * t.element_size())
        if self.server and self.channel:
            return self.channel.recv(shape, dtype)
        return t if self.server else None

    def down(self, t: torch.Tensor | None, shape: tuple[int, ...], dtype: torch.dtype
             ) -> torch.Tensor | None:
        """Server -> client: the server's ``t`` arrives at the client (``None`` elsewhere)."""
        if self.channel and self.server:
            self.channel.send(t)
            return None
        if self.channel:
            return self.channel.recv(shape, dtype)
        self._estimate(received=t.numel() * t.element_size())
        return t

    def barrier(self) -> None:
        if self.channel:
            self.channel.barrier()

    def comm_counters(self) -> CommCounters:
        if self.channel:
            c = self.channel
            return CommCounters(c.sent, c.received, c.messages, method="counted")
        return self.estimated

    def cost_metrics(self) -> dict[str, tuple[float, str]]:
        """Mean compute seconds per measured repeat of each role this party plays
        (``client_wall_s``, ``server_wall_s``) and per image (``client_s_per_img``,
        ``server_s_per_img``); at the client, the bytes it sent and received per image
        (``bytes_per_img``, every repeat counted)."""
        case, out = self.ctx.case, {}
        for role, times in (("client", self.client_s), ("server", self.server_s)):
            measured = [t for r, t in times.items() if r >= case.warmup]
            if measured:
                mean = sum(measured) / len(measured)
                out[f"{role}_wall_s"] = (mean, "s")
                out[f"{role}_s_per_img"] = (mean / case.images, "s")
        if self.client:
            c = self.comm_counters()
            out["bytes_per_img"] = ((c.bytes_sent + c.bytes_received)
                                    / ((self.repeat + 1) * case.images), "B")
        return out

    def teardown(self) -> None:
        if self.channel:
            self.channel.close()
