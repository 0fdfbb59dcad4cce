"""``toympc``: a throw-away MPC framework outside mpcbench, for the conformance battery
(``MPCBENCH_PLUGINS=tests.plugins``).

Plain torch on additive shares of the activations; the model is public once shared (its
owner sends it to every party). Each party runs a linear layer on its share (the bias at
party 0 only); before any other layer the parties open its input to each other, and party
0 goes on with the value, the others with zeros. Values travel pickled over a TCP
connection between every two parties, counted in bytes (rounds are not counted). Nothing
about it is secure: it keeps the harness's promises and no other.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import replace
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

import numpy as np
import torch

from mpcbench.case import Case
from mpcbench.models import layers as L
from mpcbench.models import plain
from mpcbench.parties.base import Backend, CommCounters, Kind, Unsupported
from mpcbench.parties.context import PartyContext

#: seconds a party keeps trying to reach a party that is not listening yet
CONNECT_S = 60.0


def _address(text: str) -> tuple[str, int]:
    host, port = text.rsplit(":", 1)
    return host, int(port)


def _connect(address: tuple[str, int]) -> Connection:
    deadline = time.monotonic() + CONNECT_S
    while True:
        try:
            return Client(address)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class ToympcBackend(Backend):
    """Additive shares of the activations between two or three parties."""

    name = "toympc"
    imports = ("torch",)
    kind = Kind.MPC
    min_parties = 2
    max_parties = 3
    takes_roles = True

    def __init__(self) -> None:
        self.peers: dict[int, Connection] = {}
        self.sent = self.received = 0

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"toympc": "0.1"}

    @classmethod
    def security(cls, case: Case) -> dict[str, Any]:
        return {"protocol": "additive shares of activations, public model (a test's toy)",
                "threshold": 0, "provider": "none", "adversary": "none"}

    @classmethod
    def validate(cls, case: Case) -> None:
        super().validate(case)
        if cls.own_options(case):
            raise Unsupported(f"unknown toympc options {sorted(cls.own_options(case))}; "
                              "known: []")

    def setup(self, ctx: PartyContext) -> None:
        """A connection to every other party: to each before it, from each after it."""
        self.ctx = ctx
        with Listener(_address(ctx.addresses[ctx.rank]), backlog=ctx.parties) as listener:
            for rank in range(ctx.rank):
                self.peers[rank] = _connect(_address(ctx.addresses[rank]))
                self.peers[rank].send(ctx.rank)
            for _ in range(ctx.rank + 1, ctx.parties):
                conn = listener.accept()
                self.peers[conn.recv()] = conn

    def _send(self, rank: int, value: Any) -> None:
        data = pickle.dumps(value)
        self.peers[rank].send_bytes(data)
        self.sent += len(data)

    def _recv(self, rank: int) -> Any:
        data = self.peers[rank].recv_bytes()
        self.received += len(data)
        return pickle.loads(data)

    def _open(self, x: torch.Tensor) -> torch.Tensor:
        """The sum of every party's share ``x`` (of two parties, the lower rank sends first)."""
        total = x
        for rank in sorted(self.peers):
            if self.ctx.rank < rank:
                self._send(rank, x)
                total = total + self._recv(rank)
            else:
                theirs = self._recv(rank)
                self._send(rank, x)
                total = total + theirs
        return total

    def share_model(self, graph: L.Graph) -> L.Graph:
        owner = self.ctx.case.roles.model_owner
        if self.ctx.rank != owner:
            return self._recv(owner)
        for rank in self.peers:
            self._send(rank, graph)
        return graph

    def share_input(self, x: np.ndarray | None, shape: tuple[int, ...],
                    owner: int) -> torch.Tensor:
        if self.ctx.rank != owner:
            return self._recv(owner)
        share = torch.from_numpy(np.asarray(x, dtype=np.float64))
        for rank in self.peers:
            mask = torch.randn(shape, dtype=torch.float64)
            self._send(rank, mask)
            share = share - mask
        return share

    def join(self, parts: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(parts)

    def infer(self, model: L.Graph, x: torch.Tensor) -> torch.Tensor:
        first = self.ctx.rank == 0

        def step(_i: int, node: L.Node, ins: list[torch.Tensor]) -> torch.Tensor:
            op = node.op
            if isinstance(op, L.Affine) and not first:  # the bias is party 0's
                return plain.apply(replace(op, bias=np.zeros_like(op.bias)), ins)
            if isinstance(op, L.Affine | L.Flatten | L.Add | L.AvgPool2d | L.GlobalAvgPool):
                return plain.apply(op, ins)  # linear: on the shares
            y = plain.apply(op, [self._open(v) for v in ins])
            return y if first else torch.zeros_like(y)

        return model.run(x, step)

    def reveal(self, y: torch.Tensor, receiver: int) -> np.ndarray | None:
        if self.ctx.rank != receiver:
            self._send(receiver, y.clone())
            return None
        return (y + sum(self._recv(rank) for rank in sorted(self.peers))).numpy()

    def comm_counters(self) -> CommCounters:
        return CommCounters(self.sent, self.received, rounds=None, method="counted")

    def teardown(self) -> None:
        for conn in self.peers.values():
            conn.close()
