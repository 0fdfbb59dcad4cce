"""Make crypten 0.4.1 import and run on the torch this project pins.

crypten 0.4.1 was released against torch 1.x/2.0. Two things moved since:

* ``torch.onnx._internal.registration`` now lives in
  ``torch.onnx._internal.torchscript_exporter.registration``; crypten imports the old
  path at import time (``crypten.nn.onnx_converter``), so the module is aliased first.
* ``torch.onnx.export`` defaults to the dynamo exporter, which crypten's ONNX converter
  (``crypten.nn.from_pytorch``) cannot read; its export is pinned to the TorchScript
  exporter (``dynamo=False``) with the exporter's deprecation warnings silenced.
* onnx now returns read-only arrays from ``numpy_helper.to_array``, which the converter
  wraps with ``torch.from_numpy`` (undefined behaviour on write, and a warning); the
  converter gets writable copies.

Everything else on the paths mpcbench uses (sharing, matmul/conv Beaver products,
comparisons, the gloo communicator) runs unchanged. :func:`import_crypten` is the only
way the project imports crypten.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import sys
import warnings
from collections.abc import Callable, Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

_OLD_REGISTRATION = "torch.onnx._internal.registration"
_NEW_REGISTRATION = "torch.onnx._internal.torchscript_exporter.registration"
_PATCHED = "_mpcbench_torchscript_export"


def _alias_onnx_registration() -> None:
    if _OLD_REGISTRATION in sys.modules:
        return
    try:
        importlib.import_module(_OLD_REGISTRATION)
    except ModuleNotFoundError:
        sys.modules[_OLD_REGISTRATION] = importlib.import_module(_NEW_REGISTRATION)


@contextlib.contextmanager
def _torchscript_onnx_export() -> Iterator[None]:
    """Within the block, ``torch.onnx.export`` uses the TorchScript exporter."""
    import torch.onnx

    original = torch.onnx.export
    torch.onnx.export = functools.partial(original, dynamo=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        torch.onnx.export = original


def _pin_torchscript_exporter(converter: ModuleType) -> None:
    export: Callable[..., Any] = converter._export_pytorch_model
    if getattr(export, _PATCHED, False):
        return

    @functools.wraps(export)
    def export_torchscript(*args: Any, **kwargs: Any) -> Any:
        with _torchscript_onnx_export():
            return export(*args, **kwargs)

    setattr(export_torchscript, _PATCHED, True)
    converter._export_pytorch_model = export_torchscript


def _writable_onnx_arrays(converter: ModuleType) -> None:
    helper = converter.numpy_helper
    if getattr(helper, _PATCHED, False):
        return

    def to_array(tensor: Any) -> Any:
        return helper.to_array(tensor).copy()

    converter.numpy_helper = SimpleNamespace(to_array=to_array, **{_PATCHED: True})


def import_crypten() -> ModuleType:
    """The ``crypten`` module with the compatibility patches applied (idempotent)."""
    _alias_onnx_registration()
    crypten = importlib.import_module("crypten")
    converter = importlib.import_module("crypten.nn.onnx_converter")
    _pin_torchscript_exporter(converter)
    _writable_onnx_arrays(converter)
    return crypten
