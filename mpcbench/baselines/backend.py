"""What the non-MPC baseline backends share: one party process (client and server in one)
that runs its own trained model and reports the cached evaluation figures of its weights."""

from __future__ import annotations

from types import ModuleType
from typing import Any, ClassVar

import torch
from torch import nn

from .. import models
from ..case import Case
from ..parties.base import Backend, Kind, PartyContext, Unsupported
from .cache import load_evaluation


class BaselineBackend(Backend):
    """In-process baseline running the trained model of :attr:`model_module`."""

    kind = Kind.BASELINE
    min_parties = 1
    max_parties = 1
    uses_description = False
    #: the baseline's model module (``NAME``, ``build()``, ``load(dataset)``, ``train()``)
    model_module: ClassVar[ModuleType]
    #: the ``case.options`` this backend understands
    options: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"torch": torch.__version__}

    @classmethod
    def validate(cls, case: Case) -> None:
        super().validate(case)
        name = cls.model_module.NAME
        if case.model != name:
            raise Unsupported(f"{cls.name} runs model {name}, got {case.model}")
        unknown = set(case.options) - cls.options
        if unknown:
            raise Unsupported(f"{cls.name} has no option {', '.join(sorted(unknown))}")
        models.weights_info(name, case.dataset)

    def setup(self, ctx: PartyContext) -> None:
        self.ctx = ctx
        self.model = self.model_module.load(ctx.case.dataset)
        #: cached figures of these weights (``None`` until ``python -m mpcbench.baselines``)
        self.evaluation = load_evaluation(self.model_module.NAME, ctx.case.dataset)
        self.repeat = -1

    def share_model(self, layers: None) -> nn.Module:
        """The loaded model (the layer description is not used); starts a repeat."""
        self.repeat += 1
        return self.model

    def run_info(self) -> dict[str, Any]:
        return {"evaluation": self.evaluation}
