"""CrypTen secure training: the torch model rebuilt as a ``crypten.nn`` module, its
parameters encrypted from the model owner, trained by CrypTen's encrypted autograd
(``crypten.nn.CrossEntropyLoss`` on one-hot labels, ``crypten.optim.SGD``).

The model is rebuilt layer by layer rather than through ``crypten.nn.from_pytorch``:
the same CrypTen modules the ONNX converter would produce, without an ONNX export in
every party. CrypTen's ``Dropout`` draws its masks from CrypTen's generators, so a model
with dropout does not follow the same path as plaintext training step by step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch
from torch import nn

from ...models import layers as L
from ..base import Unsupported
from .layers import plain_params


def _translations(cnn: ModuleType) -> dict[type[nn.Module], Callable[[Any], Any]]:
    """torch layer type -> the equivalent ``crypten.nn`` layer (untrained)."""
    return {
        nn.Linear: lambda m: cnn.Linear(m.in_features, m.out_features, bias=m.bias is not None),
        nn.Conv2d: lambda m: cnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size,
                                        stride=m.stride, padding=m.padding,
                                        bias=m.bias is not None),
        nn.ReLU: lambda m: cnn.ReLU(),
        nn.MaxPool2d: lambda m: cnn.MaxPool2d(m.kernel_size, stride=m.stride),
        nn.Dropout: lambda m: cnn.Dropout(m.p),
        nn.Flatten: lambda m: cnn.Flatten(m.start_dim),
    }


#: torch layers a trainable model may consist of (the keys of :func:`_translations`)
TRAINABLE = (nn.Linear, nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Dropout, nn.Flatten)


def untrainable(model: nn.Module) -> str | None:
    """Why ``model`` cannot be trained under CrypTen here (``None``: it can)."""
    if not isinstance(model, nn.Sequential):
        return "only sequential models are rebuilt for training"
    bad = sorted({type(m).__name__ for m in model if not isinstance(m, TRAINABLE)})
    if bad:
        return f"no encrypted training of {', '.join(bad)} layers"
    return None


@dataclass
class Trainable:
    """A shared model in training: the encrypted module, its optimiser and loss."""

    module: Any
    optimizer: Any
    loss: Any


def share(crypten: ModuleType, model: nn.Module, src: int, lr: float) -> Trainable:
    """Rebuild ``model`` in ``crypten.nn``, copy its parameters, encrypt them from ``src``."""
    if why := untrainable(model):
        raise Unsupported(why)
    table = _translations(crypten.nn)
    module = crypten.nn.Sequential(*[table[type(m)](m) for m in model])
    state = model.state_dict()
    if set(state) != set(module.state_dict()):
        raise RuntimeError("crypten.nn rebuild does not have the torch model's parameters")
    # strict=False: torch's state_dict carries no crypten version metadata
    module.load_state_dict(state, strict=False)
    module.encrypt(src=src)
    module.train()
    return Trainable(module, crypten.optim.SGD(module.parameters(), lr=lr),
                     crypten.nn.CrossEntropyLoss())


def layer_params(t: Trainable, graph: L.Graph) -> list[dict[str, Any]]:
    """The encrypted parameters of the trained ``t`` for every node of ``graph`` (the
    model's layer graph): its Linear and Conv2d modules in order, in the layout of
    :func:`.layers.plain_params` (Linear weight transposed, Conv2d bias ``(1, C, 1, 1)``;
    share-local, nothing is opened). :class:`Unsupported` if they do not line up."""
    layers = graph.ops
    modules = [m for m in t.module.children() if hasattr(m, "weight")]
    slots = [i for i, lay in enumerate(layers) if isinstance(lay, L.Linear | L.Conv2d)]
    kinds = [type(m).__name__ for m in modules]
    if kinds != [type(layers[i]).__name__ for i in slots]:
        raise Unsupported(f"the trained model's layers {kinds} do not line up with the "
                          "model's layer graph")
    params: list[dict[str, Any]] = [{} for _ in layers]
    for i, m in zip(slots, modules, strict=True):
        if getattr(m, "bias", None) is None:
            raise Unsupported(f"trained layer {i} ({kinds[slots.index(i)]}) has no bias")
        linear = isinstance(layers[i], L.Linear)
        params[i] = {"weight": m.weight.t() if linear else m.weight,
                     "bias": m.bias if linear else m.bias.reshape(1, -1, 1, 1)}
        for name, a in plain_params(layers[i]).items():
            if tuple(params[i][name].size()) != a.shape:
                raise Unsupported(f"trained {name} of layer {i} has shape "
                                  f"{tuple(params[i][name].size())}, the model {a.shape}")
    return params


def step(t: Trainable, x: Any, y: Any) -> Any:
    """One SGD step on ``x`` with one-hot ``y``; the shared loss (before the update)."""
    t.module.train()
    t.optimizer.zero_grad()
    loss = t.loss(t.module(x), y)
    loss.backward()
    t.optimizer.step()
    return loss


def predict(crypten: ModuleType, t: Trainable, x: Any) -> Any:
    """Shared logits of the model in evaluation mode (no dropout, no autograd)."""
    t.module.eval()
    with crypten.no_grad(), torch.no_grad():
        return t.module(x)
