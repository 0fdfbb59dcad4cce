"""The backend registry: mpcbench's own backend packages, those installed distributions
declare as entry points and those named in ``MPCBENCH_PLUGINS``, searched in that order."""

from __future__ import annotations

import configparser
import importlib.metadata
import textwrap

import pytest

import mpcbench
from mpcbench import parties
from mpcbench.parties.base import Kind
from tests.conftest import REPO

_PLUGIN = '''
from mpcbench.parties.base import Kind
from mpcbench.parties.plaintext import PlaintextBackend


class ToyBackend(PlaintextBackend):
    name = "toy"
    kind = Kind.MPC
'''


@pytest.fixture
def fresh_registry():
    """The registry's caches emptied before and after the test."""
    parties.registry.cache_clear()
    parties.get.cache_clear()
    yield parties
    parties.registry.cache_clear()
    parties.get.cache_clear()


def test_own_backend_packages_sit_in_the_import_layers_at_or_above_the_registry():
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    layers = config["importlinter:contract:layers"]["layers"].strip().splitlines()
    depth = {name.strip(): i for i, layer in enumerate(layers) for name in layer.split("|")}
    assert mpcbench.BACKEND_PACKAGES[0] == "mpcbench.parties"
    for package in mpcbench.BACKEND_PACKAGES:
        assert depth[package] <= depth["mpcbench.parties"], package


def test_every_kind_of_backend_is_registered(fresh_registry):
    kinds = fresh_registry.kinds()
    assert {kinds[f] for f in ("crypten", "mpyc")} == {Kind.MPC}
    assert kinds["plaintext"] is Kind.PLAINTEXT
    assert {kinds[f] for f in ("complex", "feedback", "split", "vae")} == {Kind.BASELINE}
    assert fresh_registry.get("feedback").model_module.NAME == "cnnf"


def test_an_installed_distribution_s_entry_point_adds_its_package(fresh_registry, monkeypatch,
                                                                   tmp_path):
    package = tmp_path / "toy_entry"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "toy.py").write_text(textwrap.dedent(_PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = importlib.metadata.EntryPoint("toy", "toy_entry", parties.ENTRY_POINTS)
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: [entry] if group == parties.ENTRY_POINTS else [])
    monkeypatch.setenv(parties.PLUGINS_ENV, "toy_entry, mpcbench.parties")
    assert list(fresh_registry.packages()) == [*mpcbench.BACKEND_PACKAGES, "toy_entry"]
    assert fresh_registry.get("toy").kind is Kind.MPC
    assert "toy" in fresh_registry.names()
