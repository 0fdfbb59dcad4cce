"""CrypTen backend: additive secret sharing over the 64-bit ring, one process per party.

The model is shared from the layer description (:mod:`mpcbench.models.layers`), not
through ``crypten.nn.from_pytorch``: every weight and bias becomes one encrypted tensor
from the model owner, and :func:`_forward` evaluates the records with CrypTen's tensor
operations (Beaver products for linear/conv, CrypTen's comparison for ReLU and Sign,
a tree of pairwise maxima for max pooling).
"""

from __future__ import annotations

import importlib.metadata
import ipaddress
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch

from ..models import layers as L
from .base import Backend, Case, CommCounters, PartyContext, Unsupported

PROVIDERS = ("TFP", "TTP")
#: largest party count tested (CrypTen's A2B adds one binary adder level per doubling)
MAX_PARTIES = 16

Step = Callable[[Any], Any]


def _crypten() -> ModuleType:
    from ._crypten_compat import import_crypten

    return import_crypten()


def _fixed_point(a: Any, precision_bits: int) -> torch.Tensor:
    """``a`` rounded to the fixed-point grid (CrypTen's encoder truncates, we round)."""
    scale = 2.0**precision_bits
    return torch.round(torch.as_tensor(a, dtype=torch.float64) * scale) / scale


def _max_pool(crypten: ModuleType, x: Any, k: int) -> Any:
    """Non-overlapping ``k``x``k`` max pooling as a tree of ``max(a, b) = b + relu(a - b)``.

    CrypTen's own ``max_pool2d`` also computes a one-hot argmax (for training), which
    costs extra comparisons and multiplications inference does not need.
    """
    n, c, h, w = x.size()
    ho, wo = h // k, w // k
    if (h, w) != (ho * k, wo * k):
        x = x[:, :, : ho * k, : wo * k]
    win = x.reshape(n, c, ho, k, wo, k).permute(3, 5, 0, 1, 2, 4).reshape(k * k, n, c, ho, wo)
    while win.size(0) > 1:
        half = win.size(0) // 2
        a, b = win[:half], win[half : 2 * half]
        best = b + (a - b).relu()
        win = crypten.cat([best, win[2 * half :]]) if win.size(0) % 2 else best
    return win[0]


def _share_layer(crypten: ModuleType, lay: L.Layer, src: int, bits: int) -> Step:
    """Encrypt the parameters of ``lay`` from party ``src``; the step that applies it."""

    def enc(a: Any) -> Any:
        return crypten.cryptensor(_fixed_point(a, bits), src=src)

    if isinstance(lay, L.Linear):
        wt, b = enc(lay.weight.T.copy()), enc(lay.bias)
        return lambda x: x.matmul(wt).add(b)
    if isinstance(lay, L.Conv2d):
        w, b = enc(lay.weight), enc(lay.bias.reshape(1, -1, 1, 1))
        stride, padding = lay.stride, lay.padding
        return lambda x: x.conv2d(w, stride=stride, padding=padding).add(b)
    if isinstance(lay, L.ReLU):
        return lambda x: x.relu()
    if isinstance(lay, L.Sign):
        return lambda x: x.ge(0) * 2 - 1
    if isinstance(lay, L.MaxPool2d):
        k = lay.kernel
        return lambda x: _max_pool(crypten, x, k)
    if isinstance(lay, L.Flatten):
        return lambda x: x.flatten(1)
    raise Unsupported(f"crypten backend has no translation for {type(lay).__name__}")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class CryptenBackend(Backend):
    """Secure inference with CrypTen (``crypten.mpc``, gloo communicator)."""

    name = "crypten"

    def __init__(self) -> None:
        self._ctx: PartyContext | None = None
        self._crypten: ModuleType | None = None

    # -- class-level facts -------------------------------------------------------------

    @classmethod
    def available(cls) -> str | None:
        try:
            _crypten()
        except Exception as exc:  # any import failure makes the framework unavailable
            return f"crypten cannot be imported: {type(exc).__name__}: {exc}"
        return None

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"crypten": importlib.metadata.version("crypten")}

    @staticmethod
    def _provider(case: Case) -> str:
        return str(case.options.get("provider", "TFP")).upper()

    @classmethod
    def security(cls, case: Case) -> dict[str, Any]:
        provider = cls._provider(case)
        return {
            "protocol": "arithmetic secret sharing (CrypTen, 64-bit ring)",
            # n-out-of-n additive sharing: any n-1 colluding parties learn nothing ...
            "threshold": case.parties - 1,
            "provider": provider,
            "adversary": "semi-honest",
            # ... but the TFP provider generates every Beaver triple and conversion mask
            # in the clear at party 0 (no offline communication), so privacy against
            # party 0 rests on trusting it as the dealer.
            "dealer": "party 0 (trusted first party)" if provider == "TFP" else "extra party",
        }

    @classmethod
    def validate(cls, case: Case) -> None:
        super().validate(case)
        if case.parties > MAX_PARTIES:
            raise Unsupported(f"crypten runs with at most {MAX_PARTIES} parties here")
        provider = cls._provider(case)
        if provider not in PROVIDERS:
            raise Unsupported(f"unknown crypten provider {provider!r}; use one of {PROVIDERS}")
        if provider == "TTP":
            raise Unsupported("crypten provider TTP needs a dealer process, not launched here")
        unknown = set(case.options) - {"provider"}
        if unknown:
            raise Unsupported(f"unknown crypten options {sorted(unknown)}")

    # -- run phases --------------------------------------------------------------------

    @property
    def _ct(self) -> ModuleType:
        if self._crypten is None:
            raise RuntimeError("CryptenBackend.setup() has not run")
        return self._crypten

    def setup(self, ctx: PartyContext) -> None:
        """Join the gloo process group of all parties and seed CrypTen's generators."""
        self.validate(ctx.case)
        torch.set_num_threads(ctx.threads)
        host = ctx.addresses[0].rsplit(":", 1)[0]
        env = {
            "RANK": str(ctx.rank),
            "WORLD_SIZE": str(ctx.parties),
            "RENDEZVOUS": f"tcp://{ctx.addresses[0]}",
            "DISTRIBUTED_BACKEND": "gloo",
        }
        if _is_loopback(host):
            env["GLOO_SOCKET_IFNAME"] = "lo"
        os.environ.update(env)
        crypten = _crypten()
        crypten.cfg.communicator.verbose = True
        crypten.cfg.mpc.provider = self._provider(ctx.case)
        crypten.init()
        self._ctx, self._crypten = ctx, crypten

    def share_model(self, layers: list[L.Layer]) -> list[Step]:
        bits = self._ct.cfg.encoder.precision_bits
        return [_share_layer(self._ct, lay, self._ctx.model_owner, bits) for lay in layers]

    def share_input(self, x: torch.Tensor | None, shape: tuple[int, ...]) -> Any:
        plain = torch.zeros(shape) if x is None else x
        return self._ct.cryptensor(plain, src=self._ctx.data_owner)

    def infer(self, model: list[Step], x: Any) -> Any:
        with self._ct.no_grad():
            for step in model:
                x = step(x)
        return x

    def reveal(self, y: Any) -> torch.Tensor | None:
        out = y.get_plain_text(dst=self._ctx.output_party)
        return out if self._ctx.rank == self._ctx.output_party else None

    def barrier(self) -> None:
        self._ct.communicator.get().barrier()

    def comm_counters(self) -> CommCounters:
        """CrypTen's own communication log (``cfg.communicator.verbose``).

        CrypTen counts in its communicator wrapper, per call, from tensor sizes
        (8 bytes per ring element) and a per-collective model: a party's ``bytes`` is
        what it sends *plus* what it receives, and ``rounds`` is the number of
        communicator calls. Nothing is read from the transport (gloo framing and TCP
        overhead are not included), so the method is ``"estimated"``; sent and received
        are reported as half of CrypTen's total each, which is exact for the
        symmetric exchanges (openings, A2B) that dominate.
        """
        if self._crypten is None:
            return CommCounters(method="estimated")
        stats = self._ct.communicator.get().get_communication_stats()
        total = int(stats["bytes"])
        return CommCounters(
            bytes_sent=total - total // 2,
            bytes_received=total // 2,
            rounds=int(stats["rounds"]),
            method="estimated",
        )

    def run_info(self) -> dict[str, Any]:
        cfg = self._ct.cfg
        return {
            "precision_bits": int(cfg.encoder.precision_bits),
            "provider": str(cfg.mpc.provider),
            "protocol": str(cfg.mpc.protocol),
            "active_security": bool(cfg.mpc.active_security),
            "distributed_backend": os.environ.get("DISTRIBUTED_BACKEND", ""),
            "torch_threads": torch.get_num_threads(),
        }

    def teardown(self) -> None:
        if self._crypten is not None and self._crypten.is_initialized():
            self._crypten.uninit()
        self._crypten = None
