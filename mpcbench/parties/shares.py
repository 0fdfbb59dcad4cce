"""Secret-shared model files: every party's shares of a model in a file of its own, and
one manifest, written and checked without the weights ever being put together.

A share set is a directory::

    manifest.json    model, dataset, layer shapes, encoding (fixed-point precision, ring
                     or field), party count, framework and version, run id, set id,
                     rank -> file and SHA-256
    party-0.npz      rank 0's shares of every weight and bias (as its backend exports
    party-1.npz      them, ``<layer index>.<weight|bias>``), plus the file's rank and
    ...              the set's id: all covered by the file's SHA-256

Each party writes only its own file (:func:`save`, which returns the file's record, sent
back in the party's result); the launcher writes the manifest from what every party knows
and those records (:func:`write_manifest`, through
:func:`mpcbench.launch.share_sets.write_share_manifest`). A loading party checks the
manifest against its case and its own file against the manifest (:func:`load`);
:func:`check` checks a whole set before any party starts. On several hosts, each keeps
its own file and a copy of the manifest (it holds no secret) in the same directory.
Every refusal is a :class:`SharesError` (bad input: one line, exit code 2). The arrays a
backend with the :class:`~.capabilities.ShareFiles` capability exports and imports
(:meth:`~.capabilities.ShareFiles.export_shares`,
:meth:`~.capabilities.ShareFiles.import_shares`) are this party's shares only; :func:`take`
hands them over by name and shape.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .. import models
from ..errors import InputError
from ..models import layers as L

MANIFEST = "manifest.json"
#: version of the share-set layout
FORMAT = 1
#: array names inside a party file that are no shares (its rank, the set's id)
_RANK, _SET = "meta.rank", "meta.set_id"
#: manifest fields a set must match the case in (besides layers and encoding), and how
#: a refusal names them
_CASE_FIELDS = {"framework": "holds {} shares", "model": "holds shares of model {}",
                "dataset": "holds a model trained on {}", "parties": "holds shares of {} parties"}


class SharesError(InputError):
    """A share set that does not fit the run (or is damaged): nothing is loaded."""


def file_name(rank: int) -> str:
    """Name of rank ``rank``'s share file in a set."""
    return f"party-{rank}.npz"


def layer_shapes(graph: L.Graph) -> list[dict[str, Any]]:
    """Type and parameter shapes of every node, as the manifest records them."""
    out = []
    for i, lay in enumerate(graph.ops):
        entry: dict[str, Any] = {"index": i, "type": type(lay).__name__}
        if isinstance(lay, L.Linear | L.Conv2d):
            entry |= {"weight": list(lay.weight.shape), "bias": list(lay.bias.shape)}
        out.append(entry)
    return out


def expected(case: Any, encoding: dict[str, Any],
             structure: L.Graph | None = None) -> dict[str, Any]:
    """What a share set for ``case`` must say: case fields, layer shapes (of
    ``structure``, the model's graph with zero parameters; default
    :func:`mpcbench.models.structure`) and ``encoding`` (the backend's
    :meth:`~.capabilities.ShareFiles.share_encoding`)."""
    structure = models.structure(case.model) if structure is None else structure
    return {"framework": case.framework, "model": case.model, "dataset": case.dataset,
            "parties": case.parties, "layers": layer_shapes(structure),
            "encoding": encoding}


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def save(directory: str | Path, rank: int, set_id: str,
         arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Write rank ``rank``'s ``arrays`` (its shares) to its file in ``directory``; the
    file's record for the manifest: ``{rank, file, sha256, arrays: {name: [dtype, shape]}}``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    bad = [n for n in arrays if n.startswith("meta.")]
    if bad:
        raise ValueError(f"share arrays may not be named {bad}")
    buf = io.BytesIO()
    np.savez(buf, **{_RANK: np.int64(rank), _SET: np.str_(set_id)}, **arrays)
    path = directory / file_name(rank)
    _write_atomic(path, buf.getvalue())
    return {"rank": rank, "file": path.name, "sha256": sha256(path),
            "arrays": {n: [str(a.dtype), list(a.shape)] for n, a in sorted(arrays.items())}}


def _set_of(path: Path) -> str | None:
    """The set id a share file records (``None`` if it cannot be read)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return str(npz[_SET])
    except (OSError, ValueError, KeyError):
        return None


@contextlib.contextmanager
def discarded_on_failure(directory: str | Path, set_id: str) -> Iterator[None]:
    """Remove the share files of set ``set_id`` from ``directory`` (on this file system)
    if the block fails: a failed run leaves no half a share set behind."""
    try:
        yield
    except BaseException:
        for path in Path(directory).glob("party-*.npz"):
            if _set_of(path) == set_id:
                path.unlink(missing_ok=True)
        raise


def write_manifest(directory: str | Path, header: dict[str, Any],
                   records: list[dict[str, Any]]) -> str:
    """Write the manifest of ``records`` (one per rank, from :func:`save`) under
    ``header`` (``set_id``, the :func:`expected` fields, provenance); its SHA-256."""
    directory = Path(directory)
    ranks = sorted(r["rank"] for r in records)
    if ranks != list(range(header["parties"])):
        raise ValueError(f"share files of ranks {ranks} for {header['parties']} parties")
    arrays = {json.dumps(r["arrays"], sort_keys=True) for r in records}
    if len(arrays) != 1:
        raise ValueError("the parties exported different arrays")
    manifest = {"format": FORMAT, **header, "arrays": records[0]["arrays"],
                "files": {str(r["rank"]): {"file": r["file"], "sha256": r["sha256"]}
                          for r in sorted(records, key=lambda r: r["rank"])}}
    path = directory / MANIFEST
    _write_atomic(path, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return sha256(path)


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The manifest of the set in ``directory``; :class:`SharesError` if absent or unreadable."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise SharesError(f"no share set in {directory}: {MANIFEST} is missing")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SharesError(f"share manifest {path} is unreadable: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SharesError(f"share manifest {path} is not a format-{FORMAT} share manifest")
    return manifest


def manifest_sha256(directory: str | Path) -> str:
    """SHA-256 of the set's manifest (it names every file's checksum): the set's identity."""
    read_manifest(directory)
    return sha256(Path(directory) / MANIFEST)


def _check_manifest(manifest: dict[str, Any], want: dict[str, Any], where: str) -> None:
    """:class:`SharesError` naming the first field in which the set does not fit."""
    for field, says in _CASE_FIELDS.items():
        if manifest.get(field) != want[field]:
            raise SharesError(f"share set {where} {says.format(manifest.get(field))}, the run "
                              f"{says.format(want[field]).replace('holds', 'needs')}")
    if manifest.get("layers") != want["layers"]:
        raise SharesError(f"share set {where} holds other layers than model "
                          f"{want['model']} has")
    have = manifest.get("encoding") or {}
    for key in sorted(set(have) | set(want["encoding"])):
        if have.get(key) != want["encoding"].get(key):
            raise SharesError(f"share set {where} was encoded with {key} {have.get(key)!r}, "
                              f"the run needs {want['encoding'].get(key)!r}")
    files = manifest.get("files") or {}
    if sorted(files) != sorted(str(r) for r in range(want["parties"])):
        raise SharesError(f"share set {where} lists files of ranks {sorted(files)}, "
                          f"the run has {want['parties']} parties")


def _read_file(directory: Path, rank: int, manifest: dict[str, Any]) -> dict[str, np.ndarray]:
    """Rank ``rank``'s arrays, after checking the file against the manifest."""
    entry = manifest["files"][str(rank)]
    path = directory / entry["file"]
    if not path.is_file():
        raise SharesError(f"share file {path} of party {rank} is missing")
    digest = sha256(path)
    if digest != entry["sha256"]:
        other = [r for r, e in manifest["files"].items() if e["sha256"] == digest]
        if other:
            raise SharesError(f"share file {path} holds the shares of party {other[0]}, "
                              f"not of party {rank}: the files are in the wrong rank order")
        raise SharesError(f"share file {path} of party {rank} is corrupt: its SHA-256 "
                          "does not match the manifest")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError) as exc:
        raise SharesError(f"share file {path} is unreadable: {exc}") from exc
    file_rank, set_id = arrays.pop(_RANK, None), arrays.pop(_SET, None)
    if file_rank is None or int(file_rank) != rank:
        raise SharesError(f"share file {path} holds the shares of party {file_rank}, not of "
                          f"party {rank}: the files are in the wrong rank order")
    if set_id is None or str(set_id) != manifest.get("set_id"):
        raise SharesError(f"share file {path} belongs to share set {set_id}, not to "
                          f"{manifest.get('set_id')}")
    want = manifest.get("arrays") or {}
    have = {n: [str(a.dtype), list(a.shape)] for n, a in arrays.items()}
    if have != want:
        raise SharesError(f"share file {path} holds other arrays than the manifest lists")
    return arrays


def check(directory: str | Path, want: dict[str, Any],
          ranks: Iterable[int] | None = None) -> dict[str, Any]:
    """Check the set in ``directory`` against ``want`` (:func:`expected`) and the files of
    ``ranks`` (default: every party's) against the manifest, before any party starts;
    the manifest."""
    manifest = read_manifest(directory)
    _check_manifest(manifest, want, str(directory))
    for rank in range(want["parties"]) if ranks is None else ranks:
        _read_file(Path(directory), rank, manifest)
    return manifest


def load(directory: str | Path, rank: int, want: dict[str, Any]) -> dict[str, np.ndarray]:
    """Rank ``rank``'s shares from the set in ``directory``, checked against ``want``
    (:func:`expected`) and the manifest: the arrays its backend imports."""
    manifest = read_manifest(directory)
    _check_manifest(manifest, want, str(directory))
    return _read_file(Path(directory), rank, manifest)


def take(arrays: dict[str, np.ndarray], name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Array ``name`` of a party's shares, which must have ``shape``."""
    if name not in arrays:
        raise SharesError(f"the shares hold no array {name}")
    a = arrays[name]
    if tuple(a.shape) != tuple(shape):
        raise SharesError(f"share array {name} has shape {tuple(a.shape)}, the model needs "
                          f"{tuple(shape)}")
    return a
