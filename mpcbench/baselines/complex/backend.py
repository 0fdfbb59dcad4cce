"""``complex``: split inference of the complex cnn, privacy by a secret feature rotation.

Not MPC. The client (the data owner, rank 0) runs the encoder and rotation in ``share`` and
the back-rotation and decoder in ``reveal``; the server runs the rotation-invariant
processing module in ``infer``. With two parties they are separate processes joined by a
TCP connection whose bytes are counted; with one party both roles share the process and
the bytes the split would send are estimated from the feature tensors.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from ... import models
from ...case import Case
from ...parties.base import CommCounters, PartyContext, Unsupported
from ..backend import BaselineBackend
from ..channel import Channel
from . import model
from .evaluation import (
    ATTACK_K,
    ATTACK_KS,
    RUN_ATTACK_EPOCHS,
    RUN_ATTACK_TEST,
    RUN_ATTACK_TRAIN,
    attack_figures,
)
from .model import FEATURES, PROCESSED


class ComplexBackend(BaselineBackend):
    """Client encoder / server processing / client decoder of the ``complex`` model."""

    name = "complex"
    model_module = model
    max_parties = 2
    options = frozenset({"attack_k"})
    evaluation_metrics = frozenset({"attack_mse", "attack_mse_phase", "cnn_attack_mse"})

    @classmethod
    def security(cls, case: Case) -> dict[str, Any]:
        return {
            "protocol": "none (feature obfuscation by secret rotation)",
            "threshold": None,
            "provider": "none",
            "adversary": "curious server; empirical (inversion attack), no formal guarantee",
        }

    @classmethod
    def resolve(cls, case: Case) -> dict[str, Any]:
        return {"attack_k": int(case.options.get("attack_k", ATTACK_K)),
                "measure_attack": cls.measures_attack(case)}

    @classmethod
    def validate(cls, case: Case) -> None:
        super().validate(case)
        if case.batch < 2 or case.images < 2:
            raise Unsupported("complex takes the fake features from another image: batch >= 2")
        if int(case.options.get("attack_k", ATTACK_K)) not in ATTACK_KS:
            raise Unsupported(f"attack_k must be one of {ATTACK_KS}")

    def __init__(self) -> None:
        self.channel: Channel | None = None
        self.client_s: dict[int, float] = {}
        self.server_s: dict[int, float] = {}
        self.estimated = CommCounters(method="estimated")
        self.previous: torch.Tensor | None = None
        self.measured: dict[str, Any] | None = None

    def setup(self, ctx: PartyContext) -> None:
        super().setup(ctx)
        # party 0 holds the images and learns the logits (the only roles it takes)
        self.client = ctx.rank == ctx.case.roles.data_owners[0]
        self.server = ctx.parties == 1 or not self.client
        if ctx.parties == 2:
            peer = ctx.addresses[1 - ctx.rank]
            self.channel = (Channel.connect(peer) if self.client
                            else Channel.listen(ctx.addresses[ctx.rank]))

    def _time(self, into: dict[int, float], start: float) -> None:
        into[self.repeat] = into.get(self.repeat, 0.0) + time.perf_counter() - start

    def _estimate(self, sent: int = 0, received: int = 0) -> None:
        e = self.estimated
        self.estimated = CommCounters(e.bytes_sent + sent, e.bytes_received + received,
                                      e.rounds + bool(sent), method="estimated")

    def share_input(self, x: torch.Tensor | None, shape: tuple[int, ...],
                    owner: int) -> torch.Tensor:
        """Client: encode, add the fake component, rotate by the secret angles, send."""
        z = None
        if self.client:
            start = time.perf_counter()
            with torch.no_grad():
                # A one-image batch takes its fake features from the previous batch.
                fake = self.model.encoder(self.previous[:1]) if len(x) == 1 else None
                z, self.theta = self.model.encode(x, fake)
            self.previous = x
            self._time(self.client_s, start)
            if self.channel:
                self.channel.send(z)
            else:
                self._estimate(sent=z.numel() * z.element_size())
        if self.server and self.channel:
            z = self.channel.recv((shape[0], *FEATURES), torch.complex64)
        return z

    def infer(self, model: Any, z: torch.Tensor | None) -> torch.Tensor | None:
        """Server: the rotation-invariant complex processing module."""
        if not self.server:
            return None
        start = time.perf_counter()
        with torch.no_grad():
            out = model.processing(z)
        self._time(self.server_s, start)
        return out

    def reveal(self, y: torch.Tensor | None, receiver: int) -> torch.Tensor | None:
        """Server: send the answer back. Client: rotate back, keep the real part, classify."""
        if self.channel and self.server:
            self.channel.send(y)
            return None
        if self.channel:
            y = self.channel.recv((len(self.theta), *PROCESSED), torch.complex64)
        else:
            self._estimate(received=y.numel() * y.element_size())
        start = time.perf_counter()
        with torch.no_grad():
            logits = self.model.decode(y, self.theta)
        self._time(self.client_s, start)
        return logits

    def barrier(self) -> None:
        if self.channel:
            self.channel.barrier()

    def comm_counters(self) -> CommCounters:
        if self.channel:
            c = self.channel
            return CommCounters(c.sent, c.received, c.messages, method="counted")
        return self.estimated

    def extra_metrics(self) -> dict[str, tuple[float, str]]:
        warmup, repeats = self.ctx.case.warmup, self.repeat + 1
        out = {}
        for metric, times in (("client_wall_s", self.client_s), ("server_wall_s", self.server_s)):
            if times:
                measured = [t for r, t in times.items() if r >= warmup]
                out[metric] = (sum(measured) / len(measured), "s")
        c = self.comm_counters()
        out["feature_bytes"] = ((c.bytes_sent + c.bytes_received) / repeats, "B")
        k = int(self.ctx.case.options.get("attack_k", ATTACK_K))
        figures = self.evaluation
        if self.client and self.measures_attack(self.ctx.case):
            # measured here, after the timed phases: a small attacker (see evaluation.py)
            cnn = models.load_trained("cnn", self.ctx.case.dataset)
            figures = attack_figures(self.model, cnn, self.ctx.case.dataset, (k,),
                                     RUN_ATTACK_TRAIN, RUN_ATTACK_TEST, RUN_ATTACK_EPOCHS)
            self.measured = figures
        if figures and self.client:
            out["attack_mse"] = (figures["attack_mse_by_k"][str(k)], "mse")
            out["attack_mse_phase"] = (figures["attack_mse_phase"], "mse")
            out["cnn_attack_mse"] = (figures["cnn_attack_mse"], "mse")
        return out

    def run_info(self) -> dict[str, Any]:
        info = super().run_info()
        if self.measured:
            info["attack_setting"] = self.measured["attack_setting"]
        return info

    def teardown(self) -> None:
        if self.channel:
            self.channel.close()
