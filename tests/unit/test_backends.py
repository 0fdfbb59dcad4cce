"""The backend core and its capabilities: every registered backend implements the core
and each capability it declares, and the launcher asks for each capability in one place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mpcbench
from mpcbench import parties
from mpcbench.parties import capabilities
from mpcbench.parties.base import Kind

PACKAGE = Path(mpcbench.__file__).parent
CAPABILITIES = [getattr(capabilities, name) for name in capabilities.__all__]


@pytest.mark.parametrize("framework", parties.names())
def test_every_backend_implements_the_core_and_its_capabilities(framework):
    backend = parties.get(framework)
    assert backend.name == framework and isinstance(backend.kind, Kind)
    assert not backend.__abstractmethods__, f"{framework} leaves {backend.__abstractmethods__}"
    assert set(backend.lacks) <= set(CAPABILITIES)
    assert not any(issubclass(backend, c) for c in backend.lacks)  # lacks what it has not


@pytest.mark.parametrize("framework", parties.names())
def test_every_backend_declares_the_packages_its_parties_import(framework):
    """Declared on the backend itself (not inherited from the core's empty default, except
    by a baseline, whose shared base declares torch), as top-level package names."""
    backend = parties.get(framework)
    declared = next(cls for cls in backend.__mro__ if "imports" in vars(cls))
    assert declared is backend or backend.kind is Kind.BASELINE, framework
    assert isinstance(backend.imports, tuple) and all(
        isinstance(p, str) and p.isidentifier() for p in backend.imports)


@pytest.mark.parametrize("capability", CAPABILITIES, ids=lambda c: c.__name__)
def test_each_capability_is_asked_for_in_one_place(capability):
    asking = re.compile(rf"\b(issubclass|isinstance)\([^)]*\b{capability.__name__}\b")
    found = [f"{path.relative_to(PACKAGE)}:{number}"
             for path in sorted(PACKAGE.rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if asking.search(line)]
    assert len(found) == 1, found
    assert found[0].startswith("launch/workloads/")
