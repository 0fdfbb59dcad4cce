"""``plaintext``: the reference backend, plain float32 torch on the layer graph.

Its outputs define accuracy and agreement for every other backend, and its timings
show the harness's own overhead.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from ..case import Case
from ..models.layers import Graph, map_params
from ..models.plain import evaluate
from . import tensors
from .base import Backend, Kind
from .capabilities import SecureTraining
from .context import PartyContext


class PlaintextBackend(Backend):
    """Single-process float torch inference."""

    name = "plaintext"
    imports = ("torch",)
    kind = Kind.PLAINTEXT
    min_parties = 1
    max_parties = 1
    lacks: ClassVar[dict[type, str]] = {
        SecureTraining: "plaintext SGD is trained and timed in every secure training run"}

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"torch": torch.__version__}

    @classmethod
    def security(cls, case: Case) -> dict[str, Any]:
        """No protocol: every value is plain."""
        return {"protocol": "none", "threshold": None, "provider": "none", "adversary": "none"}

    def setup(self, ctx: PartyContext) -> None:
        tensors.use_threads(ctx.threads)
        self.ctx = ctx

    def share_model(self, graph: Graph) -> Graph:
        return map_params(graph, lambda a: a.astype(np.float32))

    def share_input(self, x: np.ndarray | None, shape: tuple[int, ...],
                    owner: int) -> torch.Tensor:
        return tensors.tensor(x) if x is not None else torch.zeros(shape)

    def infer(self, model: Graph, x: torch.Tensor) -> torch.Tensor:
        return evaluate(model, x, torch.float32)

    def reveal(self, y: Any, receiver: int) -> np.ndarray | None:
        return tensors.array(y) if self.ctx.rank == receiver else None
