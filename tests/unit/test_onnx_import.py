"""Bringing one's own network: an ONNX file imported into the layer graph (exact against
the torch module it was exported from and against its torch.fx import), a factory with
its weights, and every bad file, operator or factory refused before anything runs (one
line, exit 2, nothing stored)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from mpcbench import models
from mpcbench.case import Case
from mpcbench.launch import record
from mpcbench.models import layers as L
from mpcbench.models import plain
from mpcbench.models.importer import from_torch
from mpcbench.models.onnx import OnnxError, from_onnx
from tests.conftest import invoke
from tests.data_models import Small, export

FACTORY = "tests.data_models"


def small() -> Small:
    """The network with seeded weights and batch norm statistics far from 0 and 1."""
    torch.manual_seed(0)
    model = Small()
    for bn in (model.bn, model.bn1):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        nn.init.uniform_(bn.weight, 0.5, 1.5)
        nn.init.uniform_(bn.bias, -0.5, 0.5)
    return model.eval()


@pytest.mark.parametrize("training", [torch.onnx.TrainingMode.EVAL,
                                      torch.onnx.TrainingMode.PRESERVE])
def test_onnx_graph_computes_the_torch_module_and_its_fx_import(tmp_path, training):
    # EVAL: the exporter folds the convolution's batch norm itself; PRESERVE keeps both
    model = small()
    graph = from_onnx(export(model, tmp_path / "small.onnx", training=training))
    fx = from_torch(model, (1, 28, 28))
    assert [L.describe_op(op) for op in graph.ops] == [L.describe_op(op) for op in fx.ops]
    assert graph.input_shape == (1, 28, 28)
    folded = sum("batch norm" in note for note in graph.notes)
    assert folded == (2 if training == torch.onnx.TrainingMode.PRESERVE else 1)
    x = torch.randn(5, 1, 28, 28)
    with torch.no_grad():
        expected = model(x).double()
    assert torch.allclose(plain.evaluate(graph, x), expected, atol=1e-5)
    assert torch.allclose(plain.evaluate(graph, x), plain.evaluate(fx, x), atol=1e-5)


def test_a_symbolic_batch_is_one_input_of_any_batch(tmp_path):
    model = small()
    graph = from_onnx(export(model, tmp_path / "n.onnx", batch=None))
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(plain.evaluate(graph, x), model(x).double(), atol=1e-5)


def test_the_shared_cnn_exported_is_the_zoo_graph(tmp_path):
    zoo = models.graph("cnn", "mnist")
    cnn = models.load_trained("cnn", "mnist")
    # its dropouts (identities at inference) left out: once CrypTen's ONNX converter has
    # run in a process (tests of its backend), torch exports every dropout as an opset 10
    # node the checker refuses
    for name, mod in list(cnn.named_modules()):
        if isinstance(mod, nn.Dropout):
            parent, _, leaf = name.rpartition(".")
            setattr(cnn.get_submodule(parent), leaf, nn.Identity())
    graph = from_onnx(export(cnn, tmp_path / "cnn.onnx"))
    assert [L.describe_op(op) for op in graph.ops] == [L.describe_op(op) for op in zoo.ops]
    assert [n.inputs for n in graph.nodes] == [n.inputs for n in zoo.nodes]
    for mine, theirs in zip(graph.ops, zoo.ops, strict=True):
        if isinstance(mine, L.Affine):
            assert np.allclose(mine.weight, theirs.weight, atol=1e-6)
            assert np.allclose(mine.bias, theirs.bias, atol=1e-6)


def _model(nodes, inits, shape=("N", 1, 2, 2), out=(None, 3)) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out))],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_matmul_then_add_of_a_constant_is_one_linear_layer(tmp_path):
    w, b = np.arange(12.0).reshape(4, 3) / 10, np.array([1.0, -2.0, 0.5])
    path = tmp_path / "mm.onnx"
    onnx.save(_model([helper.make_node("Flatten", ["x"], ["f"], axis=1),
                      helper.make_node("MatMul", ["f", "w"], ["m"]),
                      helper.make_node("Add", ["b", "m"], ["y"])], {"w": w, "b": b}), path)
    graph = from_onnx(path)
    assert [L.describe_op(op) for op in graph.ops] == ["Flatten", "Linear(4->3)"]
    x = torch.randn(2, 1, 2, 2)
    expected = x.double().flatten(1) @ torch.from_numpy(w).float().double() \
        + torch.from_numpy(b).float().double()
    assert torch.allclose(plain.evaluate(graph, x), expected, atol=1e-6)


class _Sigmoid(nn.Module):
    def forward(self, x):
        return torch.sigmoid(x)


class _View(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), -1)


#: torch modules whose export the importer refuses -> what the refusal names
REFUSED = {
    "sigmoid": (nn.Sequential(nn.Conv2d(1, 2, 3), _Sigmoid()), "(Sigmoid)"),
    "groups": (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3, groups=2)),
               "(Conv with groups or dilations)"),
    "avg-without-padding": (nn.AvgPool2d(3, 1, 1, count_include_pad=False),
                            "(AveragePool with padding and count_include_pad 0)"),
    "ceil": (nn.MaxPool2d(3, 2, ceil_mode=True), "(MaxPool with ceil_mode"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unsupported_operators_are_named_with_what_is_supported(tmp_path, name):
    module, named = REFUSED[name]
    with pytest.raises(L.UnsupportedLayer, match="supported: Conv") as err:
        from_onnx(export(module, tmp_path / f"{name}.onnx"))
    assert "cannot import node /" in str(err.value) and named in str(err.value)


def test_a_size_computed_at_run_time_is_refused_at_its_first_node(tmp_path):
    path = export(nn.Sequential(nn.Conv2d(1, 2, 3), _View()), tmp_path / "v.onnx",
                  batch=None)
    with pytest.raises(L.UnsupportedLayer, match=r"cannot import node \S+ \(Shape\)"):
        from_onnx(path)


def test_a_fixed_batch_other_than_one_is_refused(tmp_path):
    with pytest.raises(OnnxError, match=r"shape \[2, 1, 28, 28\]; \[N, C, H, W\]"):
        from_onnx(export(nn.Conv2d(1, 2, 3), tmp_path / "b2.onnx", batch=2))


def _refused(*args: str, results: Path, match: str) -> None:
    """``mpcbench run ARGS`` exits 2 with one line naming ``match``, storing nothing."""
    done = invoke("run", "--images", "4", "--results", str(results), *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert match in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not results.exists() or not any(results.iterdir())


def test_bad_onnx_files_are_refused_before_anything_runs(tmp_path):
    res = tmp_path / "results"
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a network")
    _refused("-f", "plaintext", "-m", str(bad), results=res, match="is not a valid ONNX")
    _refused("-f", "crypten", "-m", str(tmp_path / "none.onnx"), results=res,
             match="no ONNX file")
    sigmoid = export(REFUSED["sigmoid"][0], tmp_path / "sigmoid.onnx")
    _refused("-f", "crypten", "-m", str(sigmoid), results=res, match="(Sigmoid); supported")
    path = export(small(), tmp_path / "small.onnx")
    _refused("-f", "crypten", "-m", str(path), "--save-shares", str(tmp_path / "shares"),
             results=res, match="cannot be saved or loaded as shares")
    done = invoke("train-secure", "-m", str(path), "--steps", "1", "--results", str(res))
    assert done.returncode == 2 and "only inference runs it" in done.stderr, done.stderr


def test_bad_factories_and_weights_are_refused_before_anything_runs(tmp_path):
    res = tmp_path / "results"
    weights = tmp_path / "small.pt"
    torch.save(small().state_dict(), weights)
    wrong, misshapen = tmp_path / "wrong.pt", tmp_path / "misshapen.pt"
    torch.save(nn.Linear(3, 2).state_dict(), wrong)
    torch.save({**small().state_dict(), "out.weight": torch.zeros(5, 16)}, misshapen)
    for factory, match in [("failing", "failing() failed: ValueError: no network here"),
                           ("not_a_module", "returned a list, not a torch.nn.Module"),
                           ("absent", "has no factory absent")]:
        _refused("-f", "plaintext", "-m", f"{FACTORY}:{factory}", "--weights", str(weights),
                 results=res, match=match)
    _refused("-f", "plaintext", "-m", f"{FACTORY}:small", "--weights", str(wrong),
             results=res, match=f"weights {wrong} do not fit {FACTORY}:small")
    _refused("-f", "plaintext", "-m", f"{FACTORY}:small", "--weights", str(misshapen),
             results=res, match="size mismatch for out.weight")
    _refused("-f", "plaintext", "-m", f"{FACTORY}:small", results=res,
             match="needs its weights")
    _refused("-f", "plaintext", "-m", f"{FACTORY}:small@{tmp_path / 'none.pt'}",
             results=res, match="no weights file")
    _refused("-f", "plaintext", "-m", "tests.no_such_module:small", "--weights",
             str(weights), results=res, match="cannot import tests.no_such_module")
    _refused("-f", "plaintext", "-m", "cnn", "--weights", str(weights), results=res,
             match="--weights goes with --model package.module:factory")


def test_identity_holds_the_checksum_of_the_users_files(tmp_path):
    path = export(small(), tmp_path / "small.onnx")
    found = record.identity(Case("crypten", str(path), batch=1))
    assert found["weights"] == {
        f"{path}-mnist": hashlib.sha256(path.read_bytes()).hexdigest()}
    weights = tmp_path / "small.pt"
    torch.save(small().state_dict(), weights)
    ref = f"{FACTORY}:small@{weights}"
    source = Path(__file__).parents[1] / "data_models.py"
    digests = "".join(hashlib.sha256(p.read_bytes()).hexdigest() + "\n"
                      for p in (source, weights))
    found = record.identity(Case("crypten", ref, batch=4))
    assert found["weights"] == {f"{ref}-mnist": hashlib.sha256(digests.encode()).hexdigest()}
    assert models.default_batch(ref) == 4 and models.default_batch(str(path)) == 1
    assert models.input_shape(ref) == (1, 28, 28) == models.input_shape(str(path))
