"""Backends, one per module, found by convention: a module defining a :class:`Backend` subclass.

Framework packages are imported inside backend methods only, so listing the backends
(e.g. for ``mpcbench --help``) never imports crypten or mpyc.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from .base import Backend, Case, CommCounters, PartyContext, Unsupported

_NOT_BACKENDS = {"base", "worker", "profiler"}


@cache
def registry() -> dict[str, type[Backend]]:
    """Framework id -> backend class."""
    found: dict[str, type[Backend]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name in _NOT_BACKENDS:
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, Backend) and obj is not Backend:
                if getattr(obj, "name", None) == info.name:
                    found[obj.name] = obj
    return found


def names() -> list[str]:
    """Registered framework ids."""
    return sorted(registry())


def get(framework: str) -> type[Backend]:
    """Backend class of ``framework``; :class:`Unsupported` if there is none."""
    reg = registry()
    if framework not in reg:
        raise Unsupported(
            f"unknown framework {framework!r}; choose one of {', '.join(sorted(reg))}"
        )
    return reg[framework]


__all__ = ["Backend", "Case", "CommCounters", "PartyContext", "Unsupported", "get", "names",
           "registry"]
