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


@pytest.fixture
def branching_graph():
    """A seeded graph of every operation beyond a chain: a padded convolution, a residual
    sum, overlapping padded max pooling, padded average pooling, global average pooling."""
    import numpy as np

    from mpcbench.models import layers as L

    rng = np.random.default_rng(5)
    conv = L.Conv2d(rng.normal(0, 0.3, (2, 2, 3, 3)), rng.normal(0, 0.3, 2), 1, 1)
    nodes = (L.Node("conv", conv, (L.INPUT,)), L.Node("relu", L.ReLU(), (0,)),
             L.Node("add", L.Add(), (1, L.INPUT)), L.Node("max", L.MaxPool2d(3, 2, 1), (2,)),
             L.Node("avg", L.AvgPool2d(2, 1, 1), (3,)), L.Node("gap", L.GlobalAvgPool(), (4,)),
             L.Node("flat", L.Flatten(), (5,)),
             L.Node("fc", L.Linear(rng.normal(0, 0.3, (3, 2)), rng.normal(0, 0.3, 3)), (6,)))
    return L.Graph(nodes, (2, 7, 7))
