"""``complex``: split inference of the complex cnn, privacy by a secret feature rotation.

Not MPC. The client (the data owner, rank 0) runs the encoder and rotation in ``share`` and
the back-rotation and decoder in ``reveal``; the server runs the rotation-invariant
processing module in ``infer``. With two parties they are separate processes joined by a
TCP connection whose bytes are counted; with one party both roles share the process and
the bytes the split would send are estimated from the feature tensors. Option ``encoder``
(``plain``, default, or ``adversarial``: :mod:`.adversarial`) picks the trained network.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ... import models
from ...case import Case
from ...models import cnn, train
from ...parties.base import Unsupported
from .. import inversion as feature_inversion
from .. import perturb
from ..cache import EvaluationCode
from ..client_server import ClientServerBackend
from . import adversarial, evaluation, inversion, mean_phase, model
from .evaluation import (
    ATTACK_K,
    ATTACK_KS,
    RUN_ATTACK_EPOCHS,
    RUN_ATTACK_TEST,
    RUN_ATTACK_TRAIN,
    attack_figures,
)
from .model import FEATURES, PROCESSED

#: values of the option ``encoder``, the default first
ENCODERS = ("plain", "adversarial")
#: candidate-angle counts whose attack MSE every run reports (``attack_mse_k<k>``)
REPORTED_KS = (2, 8)


class ComplexBackend(ClientServerBackend):
    """Client encoder / server processing / client decoder of the ``complex`` model."""

    name = "complex"
    model_module = model
    options = frozenset({"attack_k", "encoder"})
    evaluation_metrics = frozenset({"attack_mse", "attack_mse_phase", "attack_mse_mean_phase",
                                    "cnn_attack_mse",
                                    *(f"attack_mse_k{k}" for k in REPORTED_KS)})
    evaluation_code: ClassVar[EvaluationCode] = {
        model.NAME: (evaluation, inversion, model, perturb, train, cnn),
        adversarial.WEIGHTS_NAME: (adversarial, mean_phase, inversion, model, feature_inversion,
                                   perturb),
    }

    @classmethod
    def security(cls, case: Case) -> dict[str, Any]:
        return {
            "protocol": "none (feature obfuscation by secret rotation)",
            "threshold": None,
            "provider": "none",
            "adversary": "curious server; empirical (inversion attack), no formal guarantee",
        }

    @staticmethod
    def encoder(case: Case) -> str:
        """``plain`` (the trained complex cnn, ReLU features) or ``adversarial`` (signed
        features, trained against a discriminator: :mod:`.adversarial`)."""
        return str(case.options.get("encoder", ENCODERS[0]))

    @classmethod
    def resolve(cls, case: Case) -> dict[str, Any]:
        return {"attack_k": int(case.options.get("attack_k", ATTACK_K)),
                "encoder": cls.encoder(case), "measure_attack": cls.measures_attack(case)}

    @classmethod
    def weights_name(cls, case: Case) -> str:
        return adversarial.WEIGHTS_NAME if cls.encoder(case) == "adversarial" else model.NAME

    def load_model(self, case: Case) -> nn.Module:
        if self.encoder(case) == "adversarial":
            return adversarial.load(case.dataset)
        return model.load(case.dataset)

    @classmethod
    def validate(cls, case: Case) -> None:
        if cls.encoder(case) not in ENCODERS:
            raise Unsupported(f"complex option encoder must be one of {', '.join(ENCODERS)}")
        super().validate(case)
        if case.batch < 2 or case.images < 2:
            raise Unsupported("complex takes the fake features from another image: batch >= 2")
        if int(case.options.get("attack_k", ATTACK_K)) not in ATTACK_KS:
            raise Unsupported(f"attack_k must be one of {ATTACK_KS}")

    def __init__(self) -> None:
        super().__init__()
        self.previous: torch.Tensor | None = None
        self.measured: dict[str, Any] | None = None

    def share_input(self, x: torch.Tensor | None, shape: tuple[int, ...],
                    owner: int) -> torch.Tensor:
        """Client: encode, add the fake component, rotate by the secret angles, send."""
        z = None
        if self.client:
            with self.timed(self.client_s):
                # A one-image batch takes its fake features from the previous batch.
                fake = self.model.encoder(self.previous[:1]) if len(x) == 1 else None
                z, self.theta = self.model.encode(x, fake)
            self.previous = x
        return self.up(z, (shape[0], *FEATURES), torch.complex64)

    def infer(self, model: Any, z: torch.Tensor | None) -> torch.Tensor | None:
        """Server: the rotation-invariant complex processing module."""
        if not self.server:
            return None
        with self.timed(self.server_s):
            return model.processing(z)

    def reveal(self, y: torch.Tensor | None, receiver: int) -> torch.Tensor | None:
        """Server: send the answer back. Client: rotate back, keep the real part, classify."""
        y = self.down(y, (len(self.theta), *PROCESSED) if self.client else (),
                      torch.complex64)
        if not self.client:
            return None
        with self.timed(self.client_s):
            return self.model.decode(y, self.theta)

    def extra_metrics(self) -> dict[str, tuple[float, str]]:
        repeats = self.repeat + 1
        out = self.cost_metrics()
        c = self.comm_counters()
        out["feature_bytes"] = ((c.bytes_sent + c.bytes_received) / repeats, "B")
        k = int(self.ctx.case.options.get("attack_k", ATTACK_K))
        figures = self.evaluation
        if self.client and self.measures_attack(self.ctx.case):
            # measured here, after the timed phases: a small attacker (see evaluation.py)
            figures = self.measured = self._measure(tuple(sorted({k, *REPORTED_KS})))
        if figures and self.client:
            by_k = figures["attack_mse_by_k"]
            out["attack_mse"] = (by_k[str(k)], "mse")
            out |= {f"attack_mse_k{j}": (by_k[str(j)], "mse") for j in REPORTED_KS}
            out |= {m: (figures[m], "mse") for m in
                    ("attack_mse_phase", "attack_mse_mean_phase", "cnn_attack_mse")
                    if m in figures}
        return out

    def _measure(self, ks: tuple[int, ...]) -> dict[str, Any]:
        """The attack figures of this run's encoder with the small attacker of a run."""
        dataset = self.ctx.case.dataset
        if self.encoder(self.ctx.case) == "adversarial":
            return adversarial.cached_figures(self.model, dataset, RUN_ATTACK_TRAIN,
                                              RUN_ATTACK_TEST, RUN_ATTACK_TEST, ks,
                                              RUN_ATTACK_EPOCHS)
        cnn = models.load_trained("cnn", dataset)
        return attack_figures(self.model, cnn, dataset, ks, RUN_ATTACK_TRAIN,
                              RUN_ATTACK_TEST, RUN_ATTACK_EPOCHS)

    def run_info(self) -> dict[str, Any]:
        info = super().run_info()
        if self.measured:
            info["attack_setting"] = self.measured["attack_setting"]
        return info

