"""What one benchmark run measures: the :class:`Case` that suites expand to, the launcher
runs and every party reads from its spec, and its workload.

A case carries exactly one workload, the kind of run it is: :class:`Inference` (secure
inference of the case's model, from its trained weights or from a set of share files),
:class:`Micro` (the sharing micro-benchmark) or :class:`Training` (secure training). What
each workload does lives in two modules of its name: the launcher's side
(:mod:`mpcbench.launch.workloads`: checks, identity, scoring) and the party's side
(:mod:`mpcbench.parties.workloads`: the timed phases); the launcher and the party program
dispatch on :attr:`Case.workload` once, by its ``kind``.

It sits below the launcher and the parties (both use it) and imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import InputError
from .roles import Roles

#: model name of the sharing micro-benchmark (its workload is :class:`Micro`)
MICRO = "micro"
#: network of a case whose parties share this machine's loopback
NO_NETWORK = "none"
#: the values a case takes unless told otherwise, here for the command line's options and
#: :class:`Case`'s fields (the rules that pick them, per framework and workload, are
#: :mod:`mpcbench.launch.defaults`'): the model of a framework that runs the shared
#: models, the parties and the test images
DEFAULT_MODEL = "mlp"
DEFAULT_PARTIES = 2
DEFAULT_IMAGES = 64
#: images in the vendored training sets (MNIST, Fashion-MNIST): one epoch
EPOCH_IMAGES = 60_000
#: SGD learning rate of secure training unless told otherwise (plaintext training's Adam
#: rate of 1e-3 does not carry over to plain SGD)
DEFAULT_LR = 0.05


@dataclass(frozen=True)
class Inference:
    """Secure inference of the case's ``images`` test images with its model: the model
    owner shares the trained weights, or, with ``shares``, every party loads its own
    shares from that directory (a set written by ``--save-shares``; see
    :mod:`mpcbench.parties.shares`) and no party reads the trained weights."""

    shares: str | None = None
    #: the workload's name (the ``workload`` column; the modules of its two sides)
    kind: str = field(default="inference", init=False, repr=False)


@dataclass(frozen=True)
class Micro:
    """The sharing micro-benchmark (model :data:`MICRO`), with no network: the data owner
    loads ``images`` training images of the case's dtype (phase ``load``) and shares them
    (phase ``share``)."""

    kind: str = field(default="micro", init=False, repr=False)


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
    kind: str = field(default="training", init=False, repr=False)


#: what a case can run
Workload = Inference | Micro | Training
_KINDS: dict[str, type[Workload]] = {w.kind: w for w in (Inference, Micro, Training)}


def workload_of(model: str, workload: Workload | None = None) -> Workload:
    """The workload of a case of ``model``: the sharing micro-benchmark for model
    :data:`MICRO`, else ``workload`` (default: inference from the trained weights).
    :class:`InputError` for model :data:`MICRO` with another workload."""
    if model != MICRO:
        return workload or Inference()
    if workload not in (None, Inference(), Micro()):
        raise InputError(f"model {MICRO} is the sharing micro-benchmark: it has no model to "
                         "train or to load from shares")
    return Micro()


def _read_workload(value: Workload | dict[str, Any]) -> Workload:
    """A workload, also from its JSON form (a run spec): a dict with its ``kind``."""
    if not isinstance(value, dict):
        return value
    fields = dict(value)
    return _KINDS[fields.pop("kind")](**fields)


@dataclass(frozen=True)
class Case:
    """What is benchmarked: the parameters of one run, identical in every party."""

    framework: str
    model: str
    dataset: str = "mnist"
    parties: int = DEFAULT_PARTIES
    images: int = DEFAULT_IMAGES
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
    #: what the run does (:func:`workload_of` the model: for model :data:`MICRO`, the
    #: sharing micro-benchmark)
    workload: Workload = field(default_factory=Inference)

    def __post_init__(self) -> None:
        if isinstance(self.roles, dict):  # from a JSON spec
            object.__setattr__(self, "roles", Roles(**self.roles))
        object.__setattr__(self, "workload",
                           workload_of(self.model, _read_workload(self.workload)))

    @property
    def case_id(self) -> str:
        """Readable id, e.g. ``crypten/cnn(dataset=mnist,n=3,b=8)`` (``,dtype=D`` for the
        sharing micro-benchmark; ``,net=wan`` when the parties talk over an emulated
        network, the roles when they are not party 0's; ``,steps=S`` for secure
        training)."""
        extra = f",dtype={self.dtype}" if isinstance(self.workload, Micro) else ""
        if self.network != NO_NETWORK:
            extra += f",net={self.network}"
        if not self.roles.is_default:
            extra += f",{self.roles.label()}"
        if isinstance(self.workload, Training):
            extra += f",steps={self.workload.steps}"
        return (f"{self.framework}/{self.model}(dataset={self.dataset},n={self.parties},"
                f"b={self.batch}{extra})")
