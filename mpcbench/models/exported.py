"""Exported layer graphs: what a party that does not compute with torch reads instead of
importing the torch model (:func:`graph`: the model owner's, with the trained weights;
:func:`structure`: everyone else's, zero parameters, no weights file read).

Each host keeps its own cache, ``data/graphs/<key>.npz`` in its checkout (beside the
weights, as the baselines' cached figures are), one file per layer graph, keyed by
:func:`key`: the model reference, the dataset (or the structure), the SHA-256 of every
file the graph is made from (:meth:`.sources.Source.made_from`: the weights, an ONNX file,
a factory's module), of mpcbench's model code and the torch version. A party that does
not find its graph runs this module as a child process, which imports torch in the child
only and writes the file atomically, under a lock, so parties of one host export a graph
once::

    python -m mpcbench.models.exported cnn mnist data/graphs/<key>.npz
    python -m mpcbench.models.exported cnn - data/graphs/<key>.npz   # its structure

The launcher stores the graphs of a run it already built for the parties on its own host
(:func:`keep`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from .. import models
from ..data import DATA_DIR
from ..errors import InputError
from . import layers as L

#: the cache of exported graphs of this checkout
GRAPHS_DIR = DATA_DIR / "graphs"
#: what the exporter's command line names instead of a dataset for the structure
STRUCTURE = "-"
_OPERATIONS = {cls.__name__: cls for cls in L.OPERATIONS}


def _code_sha256() -> str:
    """SHA-256 of mpcbench's model code (every module of this package)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _torch_version() -> str:
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "none"


def key(reference: str, dataset: str | None) -> str:
    """SHA-256 of everything the layer graph of ``reference`` (with the weights for
    ``dataset``; ``None``: its structure) is made from, read without torch."""
    made = {"reference": reference, "dataset": dataset or STRUCTURE,
            "files": models.source(reference).made_from(dataset),
            "code": _code_sha256(), "torch": _torch_version()}
    return hashlib.sha256(json.dumps(made, sort_keys=True).encode()).hexdigest()


def path(reference: str, dataset: str | None, graphs_dir: Path = GRAPHS_DIR) -> Path:
    """The cache file of that graph (:func:`key`)."""
    return Path(graphs_dir) / f"{key(reference, dataset)}.npz"


def save(graph: L.Graph, target: Path) -> None:
    """Write ``graph`` to ``target`` (numpy arrays, no pickle), atomically."""
    arrays: dict[str, np.ndarray] = {}
    nodes = []
    for i, node in enumerate(graph.nodes):
        fields = {}
        for f in dataclasses.fields(node.op):
            value = getattr(node.op, f.name)
            if isinstance(value, np.ndarray):
                arrays[f"{i}.{f.name}"] = value
            else:
                fields[f.name] = value
        nodes.append({"name": node.name, "op": type(node.op).__name__,
                      "inputs": list(node.inputs), "fields": fields})
    header = {"nodes": nodes, "input_shape": list(graph.input_shape),
              "notes": list(graph.notes)}
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, header=np.array(json.dumps(header)), **arrays)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def read(source: Path) -> L.Graph:
    """The graph :func:`save` wrote to ``source``."""
    with np.load(source, allow_pickle=False) as stored:
        header = json.loads(str(stored["header"]))
        nodes = []
        for i, node in enumerate(header["nodes"]):
            op = _OPERATIONS[node["op"]]
            arrays = {f.name: stored[f"{i}.{f.name}"] for f in dataclasses.fields(op)
                      if f"{i}.{f.name}" in stored}
            nodes.append(L.Node(node["name"], op(**node["fields"], **arrays),
                                tuple(node["inputs"])))
    return L.Graph(tuple(nodes), tuple(header["input_shape"]), tuple(header["notes"]))


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(f"{target.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _export(reference: str, dataset: str | None, target: Path) -> None:
    """Run the exporter in a child process (torch is imported there only)."""
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-m", __name__, reference, dataset or STRUCTURE,
                           str(target)], env=env, capture_output=True, text=True)
    if done.returncode:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise models.ModelError(f"exporting the layer graph of {reference} failed: "
                                f"{lines[-1]}")


def _ensure(target: Path, make: Callable[[], None]) -> None:
    """``make()`` writes ``target`` unless it exists: checked again under the lock, so
    processes of one host make it once."""
    if not target.exists():
        with _locked(target):
            if not target.exists():
                make()


def _cached(reference: str, dataset: str | None, graphs_dir: Path) -> L.Graph:
    target = path(reference, dataset, graphs_dir)
    _ensure(target, lambda: _export(reference, dataset, target))
    return read(target)


def graph(reference: str, dataset: str, graphs_dir: Path = GRAPHS_DIR) -> L.Graph:
    """:func:`mpcbench.models.graph` from the cache (exported first if missing)."""
    return _cached(reference, dataset, graphs_dir)


def structure(reference: str, graphs_dir: Path = GRAPHS_DIR) -> L.Graph:
    """:func:`mpcbench.models.structure` from the cache (exported first if missing)."""
    return _cached(reference, None, graphs_dir)


def keep(reference: str, dataset: str | None, built: L.Graph,
         graphs_dir: Path = GRAPHS_DIR) -> None:
    """Store ``built``, the graph of ``reference`` for ``dataset`` (``None``: its
    structure) made in this process, unless the cache has it."""
    target = path(reference, dataset, graphs_dir)
    _ensure(target, lambda: save(built, target))


def main(argv: list[str] | None = None) -> None:
    """Export one layer graph (imports torch)."""
    parser = argparse.ArgumentParser(description="Export a model's layer graph as numpy.")
    parser.add_argument("model", help="model reference (a name, an ONNX file, a factory)")
    parser.add_argument("dataset", help=f"dataset of the weights, or {STRUCTURE} for the "
                                        "structure (zero parameters)")
    parser.add_argument("out", type=Path, help="file to write (.npz)")
    args = parser.parse_args(argv)
    try:
        built = (models.structure(args.model) if args.dataset == STRUCTURE
                 else models.graph(args.model, args.dataset))
    except InputError as exc:
        sys.exit(f"{type(exc).__name__}: {' '.join(str(exc).split())}")
    save(built, args.out)


if __name__ == "__main__":
    main()
