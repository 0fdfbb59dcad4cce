"""Named rewrites of a layer graph that change how it computes, not what (case option
``rewrite``, off by default: a run evaluates the network as imported).

A rewrite applies to every framework alike; the run records it in its configuration
(part of its identity, shown in its system label: ``crypten+pool_before_relu``) and
says what it changed (``model.layer_rewrites``).

* ``pool_before_relu``: every ``ReLU`` read only by a ``MaxPool2d`` swaps places with it,
  ``MaxPool2d, ReLU``: the same function (max is monotone), with the comparisons of
  ReLU on the pooled values only (a quarter of them after a 2x2 pooling).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..errors import InputError
from . import layers as L

#: the case option naming the rewrite, and its value for none
OPTION, NONE = "rewrite", "none"


def _pool_before_relu(graph: L.Graph) -> tuple[L.Graph, list[str]]:
    ops, notes = graph.ops, []
    for i, node in enumerate(graph.nodes):
        (j, *_) = node.inputs
        if (isinstance(node.op, L.MaxPool2d) and j != L.INPUT
                and isinstance(ops[j], L.ReLU) and graph.readers(j) == [i]):
            ops[j], ops[i] = node.op, ops[j]
            notes.append(f"nodes {j}-{i}: ReLU, {L.describe_op(node.op)} -> "
                         f"{L.describe_op(node.op)}, ReLU (same function, max is monotone)")
    return graph.with_ops(ops), notes


#: rewrite name -> the graph it gives and one note per change
REWRITES: dict[str, Callable[[L.Graph], tuple[L.Graph, list[str]]]] = {
    "pool_before_relu": _pool_before_relu}
#: values of the case option ``rewrite``, the default first
NAMES = (NONE, *REWRITES)


def requested(options: dict[str, Any]) -> str:
    """The rewrite case ``options`` ask for (default ``none``); :class:`InputError` for
    an unknown one."""
    name = str(options.get(OPTION, NONE))
    if name not in NAMES:
        raise InputError(f"unknown rewrite {name!r}; choose one of {', '.join(NAMES)}")
    return name


def rewrite(graph: L.Graph, name: str) -> tuple[L.Graph, list[str]]:
    """``graph`` rewritten by ``name`` (a value of :data:`NAMES`) and what changed
    (``none``: as it is)."""
    if name == NONE:
        return graph, []
    out, notes = REWRITES[name](graph)
    return replace(out, notes=(*graph.notes, *notes)), notes
