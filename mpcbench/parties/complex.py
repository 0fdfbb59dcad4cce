"""``complex``: split inference of the complex cnn, privacy by a secret feature rotation.

Not MPC: the single party plays the client (encoder + rotation in ``share``, back-rotation
+ decoder in ``reveal``) and the server (complex processing module in ``infer``). The
bytes the split would send are estimated from the feature tensors.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from ..baselines.backend import BaselineBackend
from ..baselines.evaluation import ATTACK_K, ATTACK_KS
from .base import Case, CommCounters, Unsupported


class ComplexBackend(BaselineBackend):
    """Client encoder / server processing / client decoder of the ``complex`` model."""

    name = "complex"
    model_name = "complex"
    options = frozenset({"attack_k"})

    @classmethod
    def security(cls, case: Case) -> dict[str, Any]:
        return {
            "protocol": "none (feature obfuscation by secret rotation)",
            "threshold": None,
            "provider": "none",
            "adversary": "curious server; empirical (inversion attack), no formal guarantee",
        }

    @classmethod
    def validate(cls, case: Case) -> None:
        super().validate(case)
        if case.batch < 2 or case.images < 2:
            raise Unsupported("complex takes the fake features from another image: batch >= 2")
        if int(case.options.get("attack_k", ATTACK_K)) not in ATTACK_KS:
            raise Unsupported(f"attack_k must be one of {ATTACK_KS}")

    def setup(self, ctx) -> None:
        super().setup(ctx)
        self.client_s: dict[int, float] = {}
        self.server_s: dict[int, float] = {}
        self.sent = self.received = self.rounds = 0
        self.previous: torch.Tensor | None = None

    def _time(self, into: dict[int, float], start: float) -> None:
        into[self.repeat] = into.get(self.repeat, 0.0) + time.perf_counter() - start

    def share_input(self, x: torch.Tensor | None, shape: tuple[int, ...]) -> torch.Tensor:
        """Client: encode, add the fake component, rotate by the secret angles."""
        start = time.perf_counter()
        with torch.no_grad():
            # A one-image batch takes its fake features from the previous batch.
            fake = self.model.encoder(self.previous[:1]) if len(x) == 1 else None
            z, self.theta = self.model.encode(x, fake)
        self.previous = x
        self._time(self.client_s, start)
        self.sent += z.numel() * z.element_size()
        self.rounds += 1
        return z

    def infer(self, model: Any, z: torch.Tensor) -> torch.Tensor:
        """Server: the rotation-invariant complex processing module."""
        start = time.perf_counter()
        with torch.no_grad():
            out = model.processing(z)
        self._time(self.server_s, start)
        return out

    def reveal(self, y: torch.Tensor) -> torch.Tensor:
        """Client: rotate back, keep the real part, classify."""
        self.received += y.numel() * y.element_size()
        start = time.perf_counter()
        with torch.no_grad():
            logits = self.model.decode(y, self.theta)
        self._time(self.client_s, start)
        return logits

    def comm_counters(self) -> CommCounters:
        return CommCounters(self.sent, self.received, self.rounds, method="estimated")

    def extra_metrics(self) -> dict[str, tuple[float, str]]:
        counted = [r for r in self.client_s if r >= self.ctx.case.warmup]
        repeats = self.ctx.case.warmup + len(counted)
        out = {
            "client_wall_s": (sum(self.client_s[r] for r in counted) / len(counted), "s"),
            "server_wall_s": (sum(self.server_s[r] for r in counted) / len(counted), "s"),
            "feature_bytes": ((self.sent + self.received) / repeats, "B"),
        }
        if self.evaluation:
            k = str(self.ctx.case.options.get("attack_k", ATTACK_K))
            out["attack_mse"] = (self.evaluation["attack_mse_by_k"][k], "mse")
            out["cnn_attack_mse"] = (self.evaluation["cnn_attack_mse"], "mse")
        return out
