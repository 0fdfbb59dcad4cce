"""Non-MPC baselines beside the secure frameworks, one subpackage each.

A baseline package ``<name>`` has a backend class named ``<name>`` (found by the party
registry, :mod:`mpcbench.parties`) and a ``model`` module with ``NAME``, ``build()``,
``DEFAULT_BATCH``, ``load(dataset)`` and ``train(...)``. Shared here: the base backend
(:mod:`.backend`), a counted TCP channel (:mod:`.channel`), perturbations and attacks on
inputs (:mod:`.perturb`) and the cache of expensive figures (:mod:`.cache`). Run
``python -m mpcbench.baselines`` to train what is missing and print the figures.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from functools import cache
from types import ModuleType


@cache
def model_modules() -> dict[str, ModuleType]:
    """Model name -> model module of every baseline package."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        name = f"{__name__}.{info.name}.model"
        if info.ispkg and importlib.util.find_spec(name):
            mod = importlib.import_module(name)
            if hasattr(mod, "NAME"):  # a model the launcher can run (not only a core)
                found[mod.NAME] = mod
    return found
