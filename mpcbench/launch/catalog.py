"""Every model a case can name: the shared MPC models of :mod:`mpcbench.models` and the
baselines' own models (:func:`mpcbench.baselines.model_modules`); and every framework,
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
    if name not in models.names():
        raise models.ModelError(
            f"unknown model {name!r}; choose one of {', '.join(model_names())}")
    return models.module(name)


def default_batch(name: str) -> int:
    """The batch size a run uses for model ``name`` unless told otherwise."""
    return int(model_module(name).DEFAULT_BATCH)


def framework_kinds() -> dict[str, str]:
    """Every framework a case can name -> what it is (``mpc``, ``plaintext``,
    ``baseline``), as its backend declares."""
    return parties.kinds()
