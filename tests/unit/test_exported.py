"""The cache of exported layer graphs (what a party without torch reads)."""

import numpy as np

from mpcbench import models
from mpcbench.models import exported
from mpcbench.models import layers as L


def _same(a: L.Graph, b: L.Graph) -> bool:
    arrays = [(x, y) for p, q in zip(a.ops, b.ops, strict=True) if isinstance(p, L.Affine)
              for x, y in ((p.weight, q.weight), (p.bias, q.bias))]
    return (a.input_shape == b.input_shape and a.notes == b.notes
            and [(n.name, n.inputs) for n in a.nodes] == [(n.name, n.inputs) for n in b.nodes]
            and [L.describe_op(op) for op in a.ops] == [L.describe_op(op) for op in b.ops]
            and [op for op in a.ops if not isinstance(op, L.Affine)]
            == [op for op in b.ops if not isinstance(op, L.Affine)]
            and all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in arrays))


def test_a_saved_graph_reads_back_the_same(tmp_path):
    graph = models.graph("cnn", "mnist")
    exported.save(graph, tmp_path / "g.npz")
    assert _same(exported.read(tmp_path / "g.npz"), graph)
    assert not list(tmp_path.glob("*.tmp"))


def test_the_key_tells_weights_structure_and_models_apart():
    keys = {exported.key("mlp", "mnist"), exported.key("mlp", "fashion"),
            exported.key("mlp", None), exported.key("cnn", "mnist")}
    assert len(keys) == 4
    assert exported.key("mlp", "mnist") == exported.key("mlp", "mnist")


def test_a_kept_graph_is_what_the_cache_answers(tmp_path):
    structure = models.structure("mlp")
    exported.keep("mlp", None, structure, tmp_path)
    assert exported.path("mlp", None, tmp_path).exists()
    assert _same(exported.structure("mlp", tmp_path), structure)
