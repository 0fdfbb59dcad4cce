"""``vae``: a VAE served split in two; the client encodes its image to the latent mean and
sends it, the server decodes and returns the reconstruction.

Not MPC, and no classifier (no logits, so no accuracy row). With two parties, client (rank
``data_owner``) and server are separate processes joined by a counted TCP connection; with
one party the bytes are estimated from the tensors. Options ``sigma_enc`` (0.1 / 0.5 /
1.0, default 0.5) and ``input_noise`` (0 / 0.25 / 0.5 pixels, default 0) pick the weights.

Robustness rows (client): ``certified_radius`` and ``lipschitz_reconstruction``
(computed from the weights in the run), and per attack radius ``r`` (pixel L2) the
maximum-damage attack's mean and largest reconstruction change, ``attack_damage_r<r>``
and ``attack_damage_max_r<r>`` (``r`` formatted with ``:g``: ``attack_damage_r0.5``),
``certificate_held`` (1 if no attacked image exceeded the bound at any radius) and
``certificate_looseness`` (smallest ratio of the bound to the largest damage over the
radii) — cached, or measured with ``measure_attack=true``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ...case import Case
from ...models import INPUT_SHAPE
from ...parties.base import Unsupported
from ..cache import EvaluationCode
from ..client_server import ClientServerBackend
from ..perturb import to_pixels
from . import attack, evaluation, lipschitz, model
from .evaluation import RADII, TOLERANCE, run_figures


class VaeBackend(ClientServerBackend):
    """Client encoder mean / server decoder of the VAE."""

    name = "vae"
    model_module = model
    options = frozenset({"sigma_enc", "input_noise"})
    evaluation_metrics = frozenset({
        "certificate_held", "certificate_looseness",
        *(f"attack_damage{m}_r{r:g}" for r in RADII for m in ("", "_max"))})
    evaluation_code: ClassVar[EvaluationCode] = {
        model.NAME: (evaluation, attack, lipschitz, model)}

    @classmethod
    def security(cls, case: Case) -> dict[str, Any]:
        return {"protocol": "none (plaintext, robustness baseline)", "threshold": None,
                "provider": "none", "adversary": "none"}

    @staticmethod
    def setting(case: Case) -> tuple[float, float]:
        """``(sigma_enc, input_noise)`` of ``case``."""
        return (float(case.options.get("sigma_enc", model.DEFAULT_SIGMA)),
                float(case.options.get("input_noise", 0.0)))

    @classmethod
    def resolve(cls, case: Case) -> dict[str, Any]:
        sigma, noise = cls.setting(case)
        return {"sigma_enc": sigma, "input_noise": noise,
                "measure_attack": cls.measures_attack(case)}

    @classmethod
    def validate(cls, case: Case) -> None:
        try:
            setting = cls.setting(case)
        except (TypeError, ValueError):
            setting = None
        if setting not in model.SETTINGS:
            raise Unsupported("vae options (sigma_enc, input_noise) must be one of "
                              + ", ".join(f"({s:g}, {n:g})" for s, n in model.SETTINGS))
        super().validate(case)

    @classmethod
    def weights_name(cls, case: Case) -> str:
        return model.weights_name(*cls.setting(case))

    def load_model(self, case: Case) -> nn.Module:
        return model.load(case.dataset, *self.setting(case))

    def __init__(self) -> None:
        super().__init__()
        self.batch, self.pixels = 0, None
        self.squared_error, self.count = 0.0, 0
        self.measured: dict[str, Any] | None = None

    def share_input(self, x: torch.Tensor | None, shape: tuple[int, ...],
                    owner: int) -> torch.Tensor:
        """Client: the encoder mean of the image, sent to the server."""
        mu, self.batch = None, shape[0]
        if self.client:
            with self.timed(self.client_s):
                self.pixels = to_pixels(x, self.ctx.case.dataset)
                mu = self.model.encoder(self.pixels)
        return self.up(mu, (shape[0], model.LATENT), torch.float32)

    def infer(self, net: Any, mu: torch.Tensor | None) -> torch.Tensor | None:
        """Server: the decoder."""
        if not self.server:
            return None
        with self.timed(self.server_s):
            return net.decoder(mu)

    def reveal(self, r: torch.Tensor | None, receiver: int) -> None:
        """Server: send the reconstruction back; client: receive it (no logits)."""
        r = self.down(r, (self.batch, *INPUT_SHAPE), torch.float32)
        if self.client and self.repeat == 0:
            self.squared_error += float((r - self.pixels).square().sum())
            self.count += r.numel()

    def extra_metrics(self) -> dict[str, tuple[float, str]]:
        out = self.cost_metrics()
        if not self.client:
            return out
        cert = lipschitz.certify(self.model)
        out["reconstruction_mse"] = (self.squared_error / self.count, "mse")
        out["lipschitz_reconstruction"] = (cert.reconstruction, "ratio")
        out["certified_radius"] = (cert.radius(TOLERANCE), "l2")
        figures = self.evaluation
        if self.measures_attack(self.ctx.case):
            # measured here, after the timed phases: few images and steps (evaluation.py)
            figures = self.measured = run_figures(self.model, self.ctx.case.dataset)
        if figures:
            held = figures["certificate_held"]
            out["certificate_held"] = (float(held), "bool")
            out["certificate_looseness"] = (min(
                figures["bound"][r] / figures["attack_damage_max"][r]
                for r in figures["bound"]), "ratio")
            for r, damage in figures["attack_damage"].items():
                out[f"attack_damage_r{r}"] = (damage, "l2")
                out[f"attack_damage_max_r{r}"] = (figures["attack_damage_max"][r], "l2")
        return out

    def run_info(self) -> dict[str, Any]:
        info = {**super().run_info(), "tolerance": TOLERANCE}
        if self.measured:
            info["attack_setting"] = {k: self.measured[k]
                                      for k in ("attack_images", "attack_steps")}
        return info
