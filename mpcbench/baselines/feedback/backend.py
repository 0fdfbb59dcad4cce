"""``feedback``: plaintext CNN-F inference, the robustness baseline (no secrecy).

``infer`` is the forward pass plus ``cycles`` feedback cycles (options ``cycles`` and
``residual`` override the trained defaults, to measure time against cycles).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ...case import Case
from ...models import cnn, train
from ...parties.context import PartyContext
from .. import perturb
from ..backend import BaselineBackend
from ..cache import EvaluationCode
from . import evaluation, model, robustness
from .evaluation import RUN_IMAGES, run_figures

#: cached robustness figures -> metric names (CNN-F's own and the plain cnn's beside them)
_FIGURES = ("accuracy_clean", "accuracy_noisy", "accuracy_fgsm", "accuracy_pgd")


class FeedbackBackend(BaselineBackend):
    """CNN-F with recurrent generative feedback, run in the clear."""

    name = "feedback"
    model_module = model
    options = frozenset({"cycles", "residual"})
    evaluation_metrics = frozenset({f"{p}{name}" for p in ("", "cnn_") for name in _FIGURES})
    evaluation_code: ClassVar[EvaluationCode] = {
        model.NAME: (evaluation, robustness, model, perturb, train, cnn)}

    @classmethod
    def security(cls, case: Case) -> dict[str, Any]:
        return {
            "protocol": "none (plaintext, robustness baseline)",
            "threshold": None,
            "provider": "none",
            "adversary": "none",
        }

    @classmethod
    def resolve(cls, case: Case) -> dict[str, Any]:
        trained = cls.model_module.build()
        return {"cycles": int(case.options.get("cycles", trained.cycles)),
                "residual": float(case.options.get("residual", trained.residual)),
                "measure_attack": cls.measures_attack(case)}

    def setup(self, ctx: PartyContext) -> None:
        super().setup(ctx)
        opts = ctx.case.options
        self.model.cycles = int(opts.get("cycles", self.model.cycles))
        self.model.residual = float(opts.get("residual", self.model.residual))

    def share_input(self, x: torch.Tensor | None, shape: tuple[int, ...],
                    owner: int) -> torch.Tensor:
        return x

    def infer(self, model: Any, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(x)

    def reveal(self, y: torch.Tensor, receiver: int) -> torch.Tensor:
        return y

    def extra_metrics(self) -> dict[str, tuple[float, str]]:
        ev = self.evaluation
        if self.measures_attack(self.ctx.case):
            # measured here, after the timed phases, on the first RUN_IMAGES test images
            ev = run_figures(self.model, self.ctx.case.dataset)
        elif not ev or (ev["cycles"], ev["residual"]) != (self.model.cycles,
                                                           self.model.residual):
            return {}
        out = {name: (ev["cnnf"][name], "ratio") for name in _FIGURES}
        out |= {f"cnn_{name}": (ev["cnn"][name], "ratio") for name in _FIGURES}
        return out

    def run_info(self) -> dict[str, Any]:
        info = {**super().run_info(), "cycles": self.model.cycles,
                "residual": self.model.residual}
        if self.measures_attack(self.ctx.case):
            info["robustness_images"] = RUN_IMAGES
        return info
