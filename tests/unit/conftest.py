"""Fixtures for unit tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def crypten_one_party(tmp_path, monkeypatch):
    """crypten initialised in this process as the only party (gloo, file rendezvous)."""
    from mpcbench.parties.crypten.compat import import_crypten

    for key, value in {"RANK": "0", "WORLD_SIZE": "1", "DISTRIBUTED_BACKEND": "gloo",
                       "RENDEZVOUS": f"file://{tmp_path / 'rendezvous'}"}.items():
        monkeypatch.setenv(key, value)
    crypten = import_crypten()
    crypten.init()
    yield crypten
    crypten.uninit()
