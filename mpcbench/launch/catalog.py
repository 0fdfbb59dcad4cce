"""Every model a case can name: the shared MPC models of :mod:`mpcbench.models`, the
baselines' own models (:func:`mpcbench.baselines.model_modules`) and, for inference, a
user's network by its reference (:mod:`mpcbench.models.sources`); and every framework,
from the backend registry (:mod:`mpcbench.parties`)."""

from __future__ import annotations

from types import ModuleType

from .. import baselines, models, parties


def model_names() -> list[str]:
    """Names of all models, shared and baseline."""
    return sorted({*models.names(), *baselines.model_modules()})


def model_module(name: str) -> ModuleType:
    """The module defining model ``name``; :class:`mpcbench.models.ModelError` if unknown."""
    own = baselines.model_modules().get(name)
    if own is not None:
        return own
    if not models.source(name).shared:
        raise models.ModelError(f"model {name} is a user's network: only inference runs "
                                "it, not training")
    if name not in models.names():
        raise models.ModelError(
            f"unknown model {name!r}; choose one of {', '.join(model_names())}")
    return models.module(name)


def check_inference(reference: str) -> None:
    """:class:`mpcbench.models.ModelError` if inference cannot name model ``reference``:
    a shared or baseline model's name, or a well-formed reference to a user's network
    (whose files are read by the run's checks)."""
    if models.source(reference).shared:
        model_module(reference)


def default_batch(reference: str) -> int:
    """The batch size an inference run uses for model ``reference`` unless told
    otherwise."""
    own = baselines.model_modules().get(reference)
    return int(own.DEFAULT_BATCH) if own is not None else models.default_batch(reference)


def framework_kinds() -> dict[str, str]:
    """Every framework a case can name -> what it is (``mpc``, ``plaintext``,
    ``baseline``), as its backend declares."""
    return parties.kinds()
