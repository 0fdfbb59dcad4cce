"""Backends, found by convention: a module or subpackage ``<name>`` of a backend package
that defines a :class:`Backend` subclass whose ``name`` is ``<name>``.

Backend packages, searched in this order (:func:`packages`): mpcbench's own
(:data:`mpcbench.BACKEND_PACKAGES`: this package, with the MPC frameworks and the
plaintext reference, and the non-cryptographic baselines), those installed distributions
declare under the entry-point group :data:`ENTRY_POINTS` (``[options.entry_points]
mpcbench.backends = toy = toy_frameworks`` in a plugin's setup.cfg) and those named in
the environment variable :data:`PLUGINS_ENV` (comma-separated), so a framework can be
added outside the source tree, installed or not. Framework packages are imported inside
backend methods only, and :func:`get` imports the one backend asked for, so a party never
imports another framework and ``mpcbench --help`` imports none.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import pkgutil
from collections.abc import Iterator
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING

from .. import BACKEND_PACKAGES

if TYPE_CHECKING:  # the package itself imports nothing heavy: a party's pulse starts first
    from .base import Backend, Kind

#: entry-point group under which a distribution names its backend packages
#: (``<any name> = <package>``)
ENTRY_POINTS = "mpcbench.backends"
#: environment variable naming extra backend packages (``pkg_a,pkg_b``)
PLUGINS_ENV = "MPCBENCH_PLUGINS"


def _declared() -> Iterator[str]:
    yield from BACKEND_PACKAGES
    for entry in importlib.metadata.entry_points(group=ENTRY_POINTS):
        yield entry.module
    yield from (p.strip() for p in os.environ.get(PLUGINS_ENV, "").split(",") if p.strip())


def packages() -> Iterator[str]:
    """Backend packages in search order, each once (see the module docstring); lazily, so
    a backend of mpcbench's own is found without reading any distribution's metadata."""
    seen: set[str] = set()
    for package in _declared():
        if package not in seen:
            seen.add(package)
            yield package


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
    for package in packages():
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
        for package in packages():
            if framework in _names(package) and (cls := _find(package, framework)):
                return cls
    raise Unsupported(f"unknown framework {framework!r}; choose one of {', '.join(names())}")


__all__ = ["ENTRY_POINTS", "PLUGINS_ENV", "get", "kinds", "names", "packages", "registry"]
