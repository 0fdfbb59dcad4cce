"""What one benchmark run measures: the :class:`Case` that suites expand to, the launcher
runs and every party reads from its spec.

It sits below the launcher and the parties (both use it) and imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .roles import Roles

#: model name of the sharing micro-benchmark: no network, the data owner shares
#: ``images`` training images of the case's dtype (phase ``share``) after loading them
#: (phase ``load``)
MICRO = "micro"
#: network of a case whose parties share this machine's loopback
NO_NETWORK = "none"
#: images in the vendored training sets (MNIST, Fashion-MNIST): one epoch
EPOCH_IMAGES = 60_000
#: SGD learning rate of secure training unless told otherwise (plaintext training's Adam
#: rate of 1e-3 does not carry over to plain SGD)
DEFAULT_LR = 0.05


@dataclass(frozen=True)
class Training:
    """Secure training instead of inference: ``steps`` SGD steps of ``Case.batch`` images,
    drawn without replacement from the first ``train_images`` training images (one epoch;
    reshuffled with ``seed`` every epoch), from the initial weights of ``seed``. The
    case's ``images`` are then the test images the trained model is scored on."""

    steps: int
    lr: float = DEFAULT_LR
    seed: int = 0
    train_images: int = EPOCH_IMAGES


@dataclass(frozen=True)
class Case:
    """What is benchmarked: the parameters of one run, identical in every party."""

    framework: str
    model: str
    dataset: str = "mnist"
    parties: int = 2
    images: int = 64
    batch: int = 64
    repeats: int = 1
    warmup: int = 0
    #: dtype of the plaintext input tensor before sharing
    dtype: str = "float32"
    #: framework-specific options, e.g. ``{"threshold": 1}`` or ``{"provider": "TTP"}``
    options: dict[str, Any] = field(default_factory=dict)
    #: the network the parties talk over: ``none`` (this machine's loopback), a named
    #: emulated profile (``lan``, ``lan1g``, ``wan``, ``wan100``) or a profile file
    network: str = NO_NETWORK
    #: who holds the model and the images and who learns the logits
    roles: Roles = field(default_factory=Roles)
    #: secure training of the model (``None``: inference)
    training: Training | None = None
    #: directory of a secret-shared model (:mod:`mpcbench.parties.shares`) every party
    #: loads its own shares from, instead of the model owner sharing trained weights
    shares: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.roles, dict):  # from a JSON spec
            object.__setattr__(self, "roles", Roles(**self.roles))
        if isinstance(self.training, dict):  # read back from a run spec (JSON)
            object.__setattr__(self, "training", Training(**self.training))

    @property
    def case_id(self) -> str:
        """Readable id, e.g. ``crypten/cnn(dataset=mnist,n=3,b=8)`` (``,net=wan`` when the
        parties talk over an emulated network, the roles when they are not party 0's;
        ``,steps=S`` for secure training)."""
        extra = f",dtype={self.dtype}" if self.model == MICRO else ""
        if self.network != NO_NETWORK:
            extra += f",net={self.network}"
        if not self.roles.is_default:
            extra += f",{self.roles.label()}"
        if self.training is not None:
            extra += f",steps={self.training.steps}"
        return (f"{self.framework}/{self.model}(dataset={self.dataset},n={self.parties},"
                f"b={self.batch}{extra})")
