"""The launcher's side of secure inference (:class:`mpcbench.case.Inference`): its
checks, its model's record (range check, what rewriting the layer graph changed) and
its scoring against plaintext inference of the same images with the same weights
(accuracy is missing on a dataset of random labels: :func:`mpcbench.data.has_true_labels`).

The test images and the trained model's graph are loaded once per run, when first
needed, and serve the range check, the record and the plaintext reference alike. A model
from shares has no plaintext weights: no range check and no plaintext reference.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import torch

from ... import data, models
from ...case import Inference
from ...models import exported, plain, ranges, rewrites
from ...models import layers as L
from ...parties import shares
from ...parties.base import Unsupported
from ...parties.capabilities import ValueRange
from .. import catalog, share_sets
from ..placement import Placement
from .base import WorkloadRun, run_rows, throughput


class InferenceRun(WorkloadRun):
    """Secure inference of the case's test images, from trained weights or shares."""

    kind = Inference.kind

    @property
    def shares(self) -> str | None:
        """The directory of the share set the model comes from (``None``: its weights)."""
        return self.case.workload.shares

    @classmethod
    def default_batch(cls, model: str, images: int) -> int:
        return catalog.default_batch(model)

    @classmethod
    def check_model(cls, model: str) -> None:
        """A shared or baseline model, or a user's network (:mod:`mpcbench.models.sources`)."""
        catalog.check_inference(model)

    def validate(self) -> None:
        """The rewrite asked for exists, and only a backend that runs the layer graph is
        asked for one."""
        name = rewrites.requested(self.case.options)
        if name != rewrites.NONE and not self.backend.uses_description:
            raise Unsupported(f"{self.backend.name} does not run the layer graph: option "
                              f"{rewrites.OPTION} does not apply")

    def configuration(self) -> dict[str, Any]:
        """The backend's options and, for a backend that runs the layer graph, its
        rewrite (``none``: the network as imported)."""
        config = super().configuration()
        if self.backend.uses_description:
            config[rewrites.OPTION] = rewrites.requested(self.case.options)
        return config

    def check(self) -> None:
        case = self.case
        if self.shares:
            share_sets.check_set(self.shares, case, self.share_encoding())
        data.check_available(case.dataset, "test", case.images)  # also verifies checksums
        if self.backend.uses_description:
            data.check_shape(case.dataset, self.backend.image_shape(case))
            if not self.shares:
                models.weights_info(case.model, case.dataset)
            self.backend.check_graph(self._graph[0])
        if case.images < 1 or case.batch < 1 or case.repeats < 1 or case.warmup < 0:
            raise Unsupported("images, batch and repeats must be >= 1 and warmup >= 0")

    def share_encoding(self) -> dict[str, Any]:
        """Refused for a user's network: only shared models are saved or loaded as
        shares."""
        if not models.source(self.case.model).shared:
            raise Unsupported(f"model {self.case.model} is a user's network: it cannot be "
                              "saved or loaded as shares")
        return super().share_encoding()

    def check_placed(self, placement: Placement) -> None:
        if self.shares and not placement.spec_on_stdin:  # parties on this file system
            share_sets.check_set(self.shares, self.case, self.share_encoding(), files=True)

    def weights(self) -> dict[str, str]:
        if self.shares:
            key = f"{self.case.model}-{self.case.dataset}-shares"
            return {key: shares.manifest_sha256(self.shares)}
        return self.backend.weights(self.case)

    @cached_property
    def _images(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The run's test images and their labels."""
        case = self.case
        return data.load(case.dataset, "test", limit=case.images,
                         shape=self.backend.image_shape(case))

    def prepare(self, placement: Placement) -> None:
        """For parties on this machine's file system: the layer graphs they read, stored
        in the cache of exported graphs (:mod:`mpcbench.models.exported`), so none of them
        exports its own."""
        if not self.backend.uses_description or placement.spec_on_stdin:
            return
        case = self.case
        exported.keep(case.model, None, self._structure)
        if not self.shares:
            exported.keep(case.model, case.dataset, self._imported)

    @cached_property
    def _structure(self) -> L.Graph:
        """The model's layer graph with zero parameters."""
        return models.structure(self.case.model)

    @cached_property
    def _imported(self) -> L.Graph:
        """The layer graph the parties share before any rewrite: trained, or its
        structure alone when the model comes from shares."""
        return self._structure if self.shares else models.graph(self.case.model,
                                                                self.case.dataset)

    @cached_property
    def _graph(self) -> tuple[L.Graph, list[str]]:
        """The layer graph the parties run, with the case's rewrite, and what that
        changed."""
        return rewrites.rewrite(self._imported, rewrites.requested(self.case.options))

    @property
    def _plain(self) -> L.Graph | None:
        """The layer graph plaintext inference runs (``None`` from shares)."""
        return None if self.shares else self._graph[0]

    def model_record(self) -> dict[str, Any]:
        if not self.backend.uses_description:
            return super().model_record()
        graph, changed = self._graph
        return {"range": self._range(), "layer_rewrites": changed,
                "imported": [n for n in graph.notes if n not in changed]}

    def _range(self) -> dict[str, Any] | None:
        """Range check before secret sharing: a plaintext pass over the run's images.

        :class:`~mpcbench.models.ranges.RangeError` (exit 2) naming the layer, the value
        and the limit if a value would leave the backend's representable range
        (:class:`~mpcbench.parties.capabilities.ValueRange`); else the tightest value
        and its margin in bits (``None`` for a backend without a limit, or a model from
        shares: no plaintext weights to check).
        """
        if not issubclass(self.backend, ValueRange) or self._plain is None:
            return None
        return ranges.check(self._plain, self._images[0],
                            self.backend.value_range(self.case), self.case.framework)

    def score(self, per_rank: pd.DataFrame, logits: np.ndarray | None,
              outputs: list[dict], threads: int) -> list[dict]:
        """Throughput; with every image's logits, accuracy, and (with plaintext weights)
        plaintext's accuracy, the agreement and the largest logit difference. Accuracy
        is missing (NaN) on random labels."""
        values = throughput(self.case, per_rank)
        if logits is not None:
            x, labels = self._images
            labelled = data.has_true_labels(self.case.dataset)

            def accuracy(pred: torch.Tensor) -> float:
                return float((pred == labels).double().mean()) if labelled else np.nan

            secure = torch.from_numpy(logits)
            pred = secure.argmax(1)
            values["accuracy"] = accuracy(pred)
            if self.backend.uses_description and self._plain is not None:
                reference = plain.evaluate(self._plain, x)
                values["plain_accuracy"] = accuracy(reference.argmax(1))
                values["agreement"] = float((reference.argmax(1) == pred).double().mean())
                values["max_abs_err"] = float((reference - secure).abs().max())
        return run_rows(values)
