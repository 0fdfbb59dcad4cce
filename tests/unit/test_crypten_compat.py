"""The compatibility layer makes crypten 0.4.1 import and compute on the pinned torch."""

from __future__ import annotations

import importlib
import importlib.metadata
import sys

import pytest
import torch

from mpcbench.parties.crypten import compat

pytestmark = pytest.mark.crypten


def test_import_crypten_aliases_the_moved_onnx_registration():
    crypten = compat.import_crypten()
    assert crypten.__version__ == importlib.metadata.version("crypten")
    moved = importlib.import_module("torch.onnx._internal.torchscript_exporter.registration")
    assert sys.modules["torch.onnx._internal.registration"] is moved


def test_patching_is_idempotent():
    converter = importlib.import_module("crypten.nn.onnx_converter")
    first = compat.import_crypten()
    export, helper = converter._export_pytorch_model, converter.numpy_helper
    second = compat.import_crypten()
    assert first is second
    assert converter._export_pytorch_model is export  # not wrapped a second time
    assert converter.numpy_helper is helper
    assert not hasattr(export.__wrapped__, "__wrapped__")


def test_a_tiny_secure_computation(crypten_one_party):
    crypten = crypten_one_party
    x = crypten.cryptensor(torch.tensor([1.5, -2.0, 0.25]))
    y = crypten.cryptensor(torch.tensor([2.0, 3.0, -4.0]))
    assert torch.allclose((x * y).get_plain_text(), torch.tensor([3.0, -6.0, -1.0]), atol=1e-3)
    assert torch.allclose(x.relu().get_plain_text(), torch.tensor([1.5, 0.0, 0.25]), atol=1e-4)
    assert (x >= 0).get_plain_text().tolist() == [1, 0, 1]


def test_from_pytorch_exports_with_torchscript_and_restores_torch(crypten_one_party):
    crypten = crypten_one_party
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    export_before = torch.onnx.export
    secure = crypten.nn.from_pytorch(net, torch.zeros(1, 4)).encrypt()
    assert torch.onnx.export is export_before
    x = torch.randn(5, 4)
    out = secure(crypten.cryptensor(x)).get_plain_text()
    assert torch.allclose(out, net(x).detach(), atol=1e-3)
