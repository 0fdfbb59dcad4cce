"""What one benchmark run measures: the :class:`Case` that suites expand to, the launcher
runs and every party reads from its spec.

It sits below the launcher and the parties (both use it) and imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    #: directory of a secret-shared model (:mod:`mpcbench.parties.shares`) every party
    #: loads its own shares from, instead of the model owner sharing trained weights
    shares: str | None = None

    @property
    def case_id(self) -> str:
        """Readable id, e.g. ``crypten/cnn(dataset=mnist,n=3,b=8)`` (``,net=wan`` when the
        parties talk over an emulated network)."""
        extra = f",dtype={self.dtype}" if self.model == MICRO else ""
        if self.network != NO_NETWORK:
            extra += f",net={self.network}"
        return (f"{self.framework}/{self.model}(dataset={self.dataset},n={self.parties},"
                f"b={self.batch}{extra})")
