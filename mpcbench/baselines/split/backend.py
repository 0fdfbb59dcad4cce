"""``split``: split inference of the cnn; the client computes the first conv block and
sends its activation in the clear, the server computes the rest and returns the logits.

Not MPC. With two parties, client (rank ``data_owner``) and server are separate processes
joined by a counted TCP connection; with one party both roles share the process and the
bytes are estimated from the tensors. Option ``noise_multiplier`` (0 = plain training,
default; 0.7 / 0.5 / 0.3 = DP-SGD with clip norm 1) picks the trained weights. Reported
beside the cost: ``epsilon`` of those weights' training (the RDP accountant, recomputed in
the run from the training record) and the inversion attacker's ``attack_mse`` and
``attack_mse_cross_data`` (cached, or measured with ``measure_attack=true``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ...case import Case
from ...models import read_manifest, weights_path
from ...parties.base import Unsupported
from .. import inversion, perturb
from ..cache import EvaluationCode
from ..client_server import ClientServerBackend
from . import evaluation, model
from .evaluation import (
    RUN_ATTACK_IMAGES,
    RUN_ATTACKER_EPOCHS,
    RUN_ATTACKER_IMAGES,
    attack_figures,
    figure_path,
    training_epsilon,
)
from .model import ACTIVATION

#: logits per image the server sends back
CLASSES = 10


class SplitBackend(ClientServerBackend):
    """Client first conv block / server rest of the cnn, trained plainly or with DP-SGD."""

    name = "split"
    model_module = model
    options = frozenset({"noise_multiplier"})
    evaluation_metrics = frozenset({"attack_mse", "attack_mse_cross_data"})
    evaluation_code: ClassVar[EvaluationCode] = {
        model.NAME: (evaluation, inversion, model, perturb)}

    @classmethod
    def security(cls, case: Case) -> dict[str, Any]:
        sigma = cls.noise(case)
        return {
            "protocol": "none (split model, activation sent in the clear)",
            "threshold": None,
            "provider": "none",
            "adversary": "curious server; empirical (inversion attack)"
            + (f"; DP-SGD (noise {sigma:g}, clip 1) bounds what the weights leak about "
               "the training data, not the inputs" if sigma else ""),
        }

    @staticmethod
    def noise(case: Case) -> float:
        """The DP-SGD noise multiplier of ``case``'s weights (0: plain training)."""
        return float(case.options.get("noise_multiplier", 0.0))

    @classmethod
    def resolve(cls, case: Case) -> dict[str, Any]:
        return {"noise_multiplier": cls.noise(case), "measure_attack": cls.measures_attack(case)}

    @classmethod
    def validate(cls, case: Case) -> None:
        try:
            sigma = cls.noise(case)
        except (TypeError, ValueError):
            sigma = None
        if sigma not in model.NOISE_SETTINGS:
            raise Unsupported("split option noise_multiplier must be one of "
                              f"{', '.join(f'{s:g}' for s in model.NOISE_SETTINGS)}")
        super().validate(case)

    @classmethod
    def weights_name(cls, case: Case) -> str:
        return model.weights_name(cls.noise(case))

    def load_model(self, case: Case) -> nn.Module:
        return model.load(case.dataset, self.noise(case))

    def share_input(self, x: torch.Tensor | None, shape: tuple[int, ...],
                    owner: int) -> torch.Tensor:
        """Client: the first conv block, its activation sent to the server."""
        a, self.batch = None, shape[0]
        if self.client:
            with self.timed(self.client_s):
                a = self.model.client(x)
        return self.up(a, (shape[0], *ACTIVATION), torch.float32)

    def infer(self, net: Any, a: torch.Tensor | None) -> torch.Tensor | None:
        """Server: the rest of the cnn."""
        if not self.server:
            return None
        with self.timed(self.server_s):
            return net.server(a)

    def reveal(self, y: torch.Tensor | None, receiver: int) -> torch.Tensor | None:
        """Server: send the logits back; client: receive them."""
        return self.down(y, (self.batch, CLASSES), torch.float32)

    def __init__(self) -> None:
        super().__init__()
        self.batch = 0
        self.attack_setting: dict[str, Any] | None = None

    def extra_metrics(self) -> dict[str, tuple[float, str]]:
        out = self.cost_metrics()
        if not self.client:
            return out
        case = self.ctx.case
        c = self.comm_counters()
        out["activation_bytes_per_img"] = (c.bytes_sent / ((self.repeat + 1) * case.images),
                                           "B")
        name = weights_path(self.weights_name(case), case.dataset).name
        record = read_manifest().get(name, {})
        out["epsilon"] = (training_epsilon(record), "epsilon")
        figures = self.evaluation
        if self.measures_attack(case):
            # measured here, after the timed phases: a small attacker (see evaluation.py)
            figures = attack_figures(self.model, case.dataset,
                                     int(record.get("train_images", model.TRAIN_IMAGES)),
                                     RUN_ATTACKER_IMAGES, RUN_ATTACK_IMAGES,
                                     RUN_ATTACKER_EPOCHS)
            self.attack_setting = figures["attack_setting"]
        if figures:
            out |= {m: (figures[m], "mse") for m in sorted(self.evaluation_metrics)}
        return out

    def run_info(self) -> dict[str, Any]:
        info = {**super().run_info(), "noise_multiplier": self.noise(self.ctx.case)}
        if self.attack_setting:
            info["attack_setting"] = self.attack_setting
        figure = figure_path(self.ctx.case.dataset)
        if self.evaluation and figure.exists():
            # drawn with the cached figures: originals beside every setting's reconstructions
            info["reconstruction_figure"] = str(figure)
        return info
