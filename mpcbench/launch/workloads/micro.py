"""The launcher's side of the sharing micro-benchmark (:class:`mpcbench.case.Micro`):
its training images must be there; it is scored by its throughput alone (it reveals no
logits and has no model)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ... import data
from ...case import Micro
from ...parties.base import Unsupported
from .base import WorkloadRun, run_rows, throughput


class MicroRun(WorkloadRun):
    """Sharing ``images`` training images of the case's dtype, all in one batch."""

    kind = Micro.kind

    @classmethod
    def default_batch(cls, model: str, images: int) -> int:
        return images

    @classmethod
    def check_model(cls, model: str) -> None:
        """(The micro-benchmark's model is its name alone.)"""

    def check(self) -> None:
        data.check_available(self.case.dataset, "train", self.case.images)

    def share_encoding(self) -> dict[str, Any]:
        raise Unsupported("the sharing micro-benchmark has no model to save or load as shares")

    def score(self, per_rank: pd.DataFrame, logits: np.ndarray | None,
              outputs: list[dict], threads: int) -> list[dict]:
        return run_rows(throughput(self.case, per_rank))
