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

    def __post_init__(self) -> None:
        if isinstance(self.roles, dict):  # from a JSON spec
            object.__setattr__(self, "roles", Roles(**self.roles))

    @property
    def case_id(self) -> str:
        """Readable id, e.g. ``crypten/cnn(dataset=mnist,n=3,b=8)`` (``,net=wan`` when the
        parties talk over an emulated network, the roles when they are not party 0's)."""
        extra = f",dtype={self.dtype}" if self.model == MICRO else ""
        if self.network != NO_NETWORK:
            extra += f",net={self.network}"
        if not self.roles.is_default:
            extra += f",{self.roles.label()}"
        return (f"{self.framework}/{self.model}(dataset={self.dataset},n={self.parties},"
                f"b={self.batch}{extra})")
