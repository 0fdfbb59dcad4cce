"""Range check before secret sharing: the largest magnitude every value reaches.

A fixed-point secure evaluation represents values in a bounded range; a value beyond it
wraps around silently and flips comparisons. :func:`largest` runs a layer graph in
plain torch (float32) over the run's images and records, per node, the largest
magnitude of what a secure evaluation must represent: the inputs, every node's output
(pre-activations, sums, pooled values and the logits), and for max pooling the
differences it compares (the window's largest minus its smallest element bounds every
pairwise difference).
:func:`check` compares them with a backend's limit. Imports no secure framework.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import InputError
from . import layers as L
from . import plain


class RangeError(InputError):
    """A value of the run would leave the backend's representable range."""


@dataclass(frozen=True)
class Peak:
    """The largest magnitude of one kind of value at one layer."""

    #: index of the node in the layer graph (-1: the input)
    index: int
    #: ``Linear(784->28)``, ``MaxPool2d(2)``, ``input`` ...
    layer: str
    #: ``input``, ``pre-activation`` (of Linear, Conv2d), ``output`` (of pooling or a sum)
    #: or ``max-pool difference``
    what: str
    value: float
    #: first image (0-based, in the run's order) where it is reached
    image: int


def _peak(index: int, layer: str, what: str, values: torch.Tensor) -> Peak:
    per_image = values.abs().flatten(1).amax(1)
    image = int(per_image.argmax())
    return Peak(index, layer, what, float(per_image[image]), image)


def largest(graph: L.Graph, x: torch.Tensor, batch: int = 256,
            dtype: torch.dtype = torch.float32) -> list[Peak]:
    """Per node, the largest magnitude over the images ``x`` (batches of ``batch``).

    float32 by default: twice as fast as float64 on the launcher's pass over thousands
    of images, and its relative error (~1e-6) is far below any margin worth keeping.
    """
    peaks: dict[tuple[int, str], Peak] = {}

    def keep(peak: Peak, offset: int) -> None:
        key = (peak.index, peak.what)
        peak = Peak(peak.index, peak.layer, peak.what, peak.value, peak.image + offset)
        if key not in peaks or peak.value > peaks[key].value:
            peaks[key] = peak

    for lo in range(0, x.shape[0], batch):
        y = x[lo : lo + batch].to(dtype)
        keep(_peak(-1, "input", "input", y), lo)

        def step(i: int, node: L.Node, ins: list[torch.Tensor], lo: int = lo) -> torch.Tensor:
            op, name = node.op, L.describe_op(node.op)
            if isinstance(op, L.MaxPool2d):
                spread = (F.max_pool2d(ins[0], op.kernel, op.stride, op.padding)
                          + F.max_pool2d(-ins[0], op.kernel, op.stride, op.padding))
                keep(_peak(i, name, "max-pool difference", spread), lo)
            out = plain.apply(op, ins)
            if not isinstance(op, L.ReLU | L.Sign | L.Flatten):  # no larger than their input
                what = "pre-activation" if isinstance(op, L.Affine) else "output"
                keep(_peak(i, name, what, out), lo)
            return out

        graph.run(y, step)
    return sorted(peaks.values(), key=lambda p: (p.index, p.what))


def margin_bits(value: float, limit: float) -> float:
    """Bits to spare: ``log2(limit / value)`` (infinite for a zero value)."""
    return math.inf if value == 0 else math.log2(limit / value)


def check(graph: L.Graph, x: torch.Tensor, limit: float | None,
          what: str = "the backend") -> dict | None:
    """:class:`RangeError` (one line: the first node whose value reaches ``limit``, the
    value, the limit); else the tightest peak and its margin, as stored with the run
    (``None``: no limit)."""
    if limit is None:
        return None
    peaks = largest(graph, x)
    over = [p for p in peaks if p.value >= limit]
    if over:
        first = over[0]
        raise RangeError(
            f"range check: layer {first.index} {first.layer} {first.what} reaches "
            f"{first.value:.4g} (image {first.image}), not below {what}'s limit {limit:g}; "
            "nothing was shared")
    worst = max(peaks, key=lambda p: p.value)
    return {"limit": limit, "max_abs": worst.value, "layer": f"{worst.index} {worst.layer}",
            "what": worst.what, "margin_bits": round(margin_bits(worst.value, limit), 3),
            "images": int(x.shape[0])}
