"""Backends, found by convention: a module or subpackage ``<name>`` of a backend package
that defines a :class:`Backend` subclass whose ``name`` is ``<name>``.

Backend packages are this package (the MPC frameworks and the plaintext reference),
:mod:`mpcbench.baselines` (non-cryptographic baselines) and any package named in the
environment variable :data:`PLUGINS_ENV` (comma-separated), so a framework can be added
outside the source tree. Framework packages are imported inside backend methods only,
and :func:`get` imports the one backend asked for, so a party never imports another
framework and ``mpcbench --help`` imports none.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the package itself imports nothing heavy: a party's pulse starts first
    from .base import Backend, Kind

#: environment variable naming extra backend packages (``pkg_a,pkg_b``)
PLUGINS_ENV = "MPCBENCH_PLUGINS"
_BUILTIN = ("mpcbench.parties", "mpcbench.baselines")


def _packages() -> list[str]:
    extra = [p.strip() for p in os.environ.get(PLUGINS_ENV, "").split(",") if p.strip()]
    return [*_BUILTIN, *extra]


def _backend_in(module: ModuleType, name: str) -> type[Backend] | None:
    from .base import Backend

    for obj in vars(module).values():
        if (isinstance(obj, type) and issubclass(obj, Backend) and obj is not Backend
                and getattr(obj, "name", None) == name):
            return obj
    return None


def _names(package: str) -> list[str]:
    """The modules and subpackages of backend package ``package``, listed without importing
    it (a party imports no backend package but its own backend's)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.submodule_search_locations is None:
        raise ModuleNotFoundError(f"no backend package {package!r}", name=package)
    return [info.name for info in pkgutil.iter_modules(spec.submodule_search_locations)
            if not info.name.startswith("_")]


def _find(package: str, name: str) -> type[Backend] | None:
    return _backend_in(importlib.import_module(f"{package}.{name}"), name)


@cache
def registry() -> dict[str, type[Backend]]:
    """Framework id -> backend class, for every backend of every backend package."""
    found: dict[str, type[Backend]] = {}
    for package in _packages():
        for name in _names(package):
            if cls := _find(package, name):
                found.setdefault(cls.name, cls)
    return found


def names() -> list[str]:
    """Registered framework ids."""
    return sorted(registry())


def kinds() -> dict[str, Kind]:
    """Framework id -> what it is (MPC framework, plaintext reference, baseline)."""
    return {name: cls.kind for name, cls in sorted(registry().items())}


@cache
def get(framework: str) -> type[Backend]:
    """Backend class of ``framework``, importing only its own module; :class:`Unsupported`
    if there is none."""
    from .base import Unsupported

    if framework.isidentifier():
        for package in _packages():
            if framework in _names(package) and (cls := _find(package, framework)):
                return cls
    raise Unsupported(f"unknown framework {framework!r}; choose one of {', '.join(names())}")


__all__ = ["PLUGINS_ENV", "get", "kinds", "names", "registry"]
