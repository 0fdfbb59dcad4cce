"""What the non-MPC baseline backends share: one party process (client and server in one)
that runs its own trained model and reports its evaluation figures (attack MSE,
robustness): read from the cache of exactly its inputs (stored as ``cached``), or, with
the option ``measure_attack=true``, measured in the run on a few images (``measured``).

A baseline computes with torch: its ``share_input``, ``infer`` and ``reveal`` take and
give tensors, and :class:`BaselineBackend` converts the numpy batches and logits of the
backend interface once, in ``share_batch`` and ``reveal_batch``."""

from __future__ import annotations

from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from .. import data, models, roles
from ..case import Case
from ..parties import tensors
from ..parties.base import Backend, Kind, Unsupported
from ..parties.context import PartyContext
from .cache import REFERENCE_MODEL, EvaluationCode, load_evaluation


class BaselineBackend(Backend):
    """In-process baseline running the trained model of :attr:`model_module`."""

    kind = Kind.BASELINE
    imports = ("torch",)
    min_parties = 1
    max_parties = 1
    uses_description = False
    #: the baseline's model module (``NAME``, ``build()``, ``load(dataset)``, ``train()``)
    model_module: ClassVar[ModuleType]
    #: the ``case.options`` this backend understands (besides ``measure_attack``)
    options: ClassVar[frozenset[str]] = frozenset()
    #: evaluation figures the backend reports (cached unless ``measure_attack``)
    evaluation_metrics: ClassVar[frozenset[str]] = frozenset()
    #: the code computing the cached figures: weights name (the model's ``NAME``, or
    #: trained weights of it computed by other modules) -> the modules whose source is its
    #: version, part of the cache key (:func:`.cache.code_version`)
    evaluation_code: ClassVar[EvaluationCode] = {}

    @staticmethod
    def measures_attack(case: Case) -> bool:
        """Whether a run of ``case`` measures its evaluation figures itself."""
        return bool(case.options.get("measure_attack", False))

    @classmethod
    def weights_name(cls, case: Case) -> str:
        """Name of the weights a run of ``case`` loads: the model's, unless an option picks
        other trained weights of it (see :meth:`load_model`)."""
        return cls.model_module.NAME

    def load_model(self, case: Case) -> nn.Module:
        """The trained model a run of ``case`` uses (the weights of :meth:`weights_name`)."""
        return self.model_module.load(case.dataset)

    @classmethod
    def weights(cls, case: Case) -> dict[str, str]:
        """The baseline's own weights and the plain cnn's its figures are compared with."""
        return {f"{m}-{case.dataset}": models.weights_info(m, case.dataset).sha256
                for m in (cls.weights_name(case), REFERENCE_MODEL)}

    @classmethod
    def cached_metrics(cls, case: Case) -> frozenset[str]:
        return frozenset() if cls.measures_attack(case) else cls.evaluation_metrics

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"torch": torch.__version__}

    @classmethod
    def validate(cls, case: Case) -> None:
        super().validate(case)
        name = cls.model_module.NAME
        if case.model != name:
            raise Unsupported(f"{cls.name} runs model {name}, got {case.model}")
        unknown = set(case.options) - cls.options - {"measure_attack"}
        if not isinstance(case.options.get("measure_attack", False), bool):
            raise Unsupported("measure_attack must be true or false")
        if unknown:
            raise Unsupported(f"{cls.name} has no option {', '.join(sorted(unknown))}")
        if case.dataset not in data.VENDORED:
            raise Unsupported(f"{cls.name} runs on {' or '.join(data.VENDORED)}, not "
                              f"{case.dataset}")
        models.weights_info(cls.weights_name(case), case.dataset)

    def setup(self, ctx: PartyContext) -> None:
        tensors.use_threads(ctx.threads)
        self.ctx = ctx
        self.model = self.load_model(ctx.case)
        #: cached figures of exactly these inputs (``None`` until ``python -m
        #: mpcbench.baselines`` computed them, or when the run measures its own)
        self.evaluation = (None if self.measures_attack(ctx.case)
                           else load_evaluation(self.weights_name(ctx.case), ctx.case.dataset,
                                                code=self.evaluation_code))
        self.repeat = -1

    def share_model(self, layers: None) -> nn.Module:
        """The loaded model (the layer description is not used); starts a repeat."""
        self.repeat += 1
        return self.model

    def share_batch(self, x: np.ndarray | None, slices: list[roles.Slice],
                    rank: int, image: tuple[int, ...]) -> Any:
        """The slices of the images as tensors for the baseline's ``share_input``."""
        return super().share_batch(None if x is None else tensors.tensor(x), slices, rank,
                                   image)

    def reveal_batch(self, y: Any, receivers: list[roles.Slice],
                     batch: tuple[int, int]) -> list[tuple[roles.Slice, np.ndarray]]:
        """The logits the baseline's ``reveal`` opened, as arrays."""
        return [(s, tensors.array(out)) for s, out in super().reveal_batch(y, receivers, batch)]

    def run_info(self) -> dict[str, Any]:
        return {"evaluation": self.evaluation,
                "evaluation_source": "measured" if self.measures_attack(self.ctx.case)
                else "cached" if self.evaluation else "none"}
