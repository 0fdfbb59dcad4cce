"""What the non-MPC baseline backends share: one party process (client and server in one)
that runs its own trained model and reports the cached evaluation figures of its weights."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from .. import models
from ..parties.base import Backend, Case, PartyContext, Unsupported
from .evaluation import load_evaluation


class BaselineBackend(Backend):
    """In-process baseline running the trained model ``model_name``."""

    min_parties = 1
    max_parties = 1
    uses_description = False
    #: the registered model this backend runs
    model_name: ClassVar[str]
    #: the ``case.options`` this backend understands
    options: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"torch": torch.__version__}

    @classmethod
    def validate(cls, case: Case) -> None:
        super().validate(case)
        if case.model != cls.model_name:
            raise Unsupported(f"{cls.name} runs model {cls.model_name}, got {case.model}")
        unknown = set(case.options) - cls.options
        if unknown:
            raise Unsupported(f"{cls.name} has no option {', '.join(sorted(unknown))}")

    def setup(self, ctx: PartyContext) -> None:
        self.ctx = ctx
        self.model = models.load_trained(self.model_name, ctx.case.dataset)
        #: cached figures of these weights (``None`` until ``python -m mpcbench.baselines``)
        self.evaluation = load_evaluation(self.model_name, ctx.case.dataset)
        self.repeat = -1

    def share_model(self, layers: None) -> nn.Module:
        """The loaded model (the layer description is not used); starts a repeat."""
        self.repeat += 1
        return self.model

    def run_info(self) -> dict[str, Any]:
        return {"evaluation": self.evaluation}
