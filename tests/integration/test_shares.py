"""Secret-shared model files with real party processes: opened together, a run's saved
shares (``--save-shares``) are the fixed-point weights; no process of a run from shares
(``--model-shares``) opens the trained weights, and every bad share set is refused before
any party starts. (That saved shares reload in new parties to the same logits is a case
of the conformance battery, ``tests/integration/test_conformance.py``, for every backend
with share files.)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mpcbench import models
from mpcbench.case import Case
from mpcbench.launch.runner import run_case
from mpcbench.parties import shares
from tests.conftest import ONCE, REPO, invoke, party_processes

pytestmark = pytest.mark.integration

IMAGES = 8
WEIGHTS = models.weights_path("mlp", "mnist")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """``(framework, parties) ->`` the share set a stock run saved (one run per key for
    the whole module)."""
    made: dict = {}

    def get(framework: str, parties: int) -> Path:
        key = framework, parties
        if key not in made:
            base = tmp_path_factory.mktemp(f"{framework}{parties}")
            case = Case(framework, "mlp", parties=parties, images=IMAGES, batch=IMAGES,
                        options={"variant": "stock"})
            run_case(case, base / "results", timeout_s=240, save_shares=base / "shares")
            made[key] = base / "shares"
        return made[key]

    return get


def _ints(a: np.ndarray) -> np.ndarray:
    """Object ints of uint64 words (the MPyC files) or of int64 ring elements."""
    if a.dtype == np.int64:
        return a.astype(np.uint64).astype(object)
    return sum(a[..., i].astype(object) << (64 * i) for i in range(a.shape[-1]))


def _opened(framework: str, directory: Path, name: str) -> np.ndarray:
    """The test (not a party) opens array ``name`` from the files: the ring sum of all
    parties' shares (CrypTen) or Lagrange interpolation at 0 of ranks 0 and 1 (MPyC,
    Shamir at points 1, 2, threshold <= 1 here); signed."""
    manifest = json.loads((directory / shares.MANIFEST).read_text())
    files = [np.load(directory / shares.file_name(r))[name]
             for r in range(manifest["parties"])]
    if framework == "crypten":
        modulus = 2**64
        value = sum(_ints(f) for f in files) % modulus
    else:
        modulus = int(manifest["encoding"]["field"])
        s1, s2 = _ints(files[0]), _ints(files[1])
        value = (2 * s1 - s2) % modulus if manifest["encoding"]["threshold"] else s1
    return np.where(value > modulus // 2, value - modulus, value).astype(np.int64)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("framework", ["crypten", "mpyc"])
def test_files_are_shares_of_the_fixed_point_weights(saved, framework):
    """Each file alone is far from the weights; opened together they are the weights on
    the backend's fixed-point grid, exactly (CrypTen: 16 bits; MPyC stock: MPyC's
    integral encoding of ``round(W * 2**10)``, i.e. times ``2**7``)."""
    directory = saved(framework, 3)
    weight = models.graph("mlp", "mnist").ops[1].weight.T
    scale = 2**16 if framework == "crypten" else 2**10
    want = np.rint(weight * scale).astype(np.int64) * (1 if framework == "crypten" else 2**7)
    np.testing.assert_array_equal(_opened(framework, directory, "1.weight"), want)
    one = _ints(np.load(directory / shares.file_name(1))["1.weight"])
    assert np.mean(one.astype(float) == want.astype(object).astype(float)) < 0.01


def _strace(log: Path, *args: str) -> subprocess.CompletedProcess:
    """``mpcbench ARGS`` with every process it starts (launcher and parties) traced by the
    kernel: each file any of them opens, in ``log``."""
    if not shutil.which("strace"):
        pytest.skip("strace is not installed")
    cmd = ["strace", "-f", "--seccomp-bpf", "-qq", "-e", "trace=open,openat,openat2",
           "-e", "signal=none", "-o", str(log), sys.executable, "-m", "mpcbench", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=REPO)


@pytest.mark.timeout(300)
def test_no_process_of_a_run_from_shares_opens_the_weights_file(tmp_path):
    """Traced with strace (the kernel's record of every open of every process):
    ``share-model`` opens the weights (so the trace sees such an open); a run from its
    shares opens each party's share file and never the weights."""
    directory, results = tmp_path / "set", str(tmp_path / "results")
    proc = _strace(tmp_path / "share.log", "share-model", "-f", "crypten", "-m", "mlp",
                   "-n", "2", "--out", str(directory), "--results", results)
    assert proc.returncode == 0, proc.stderr
    assert WEIGHTS.name in (tmp_path / "share.log").read_text()
    proc = _strace(tmp_path / "shares.log", "run", *ONCE, "-f", "crypten", "-m", "mlp", "-n", "2",
                   "--images", str(IMAGES), "--results", results, "--model-shares",
                   str(directory))
    assert proc.returncode == 0, proc.stderr
    trace = (tmp_path / "shares.log").read_text()
    for rank in range(2):
        assert str(directory / shares.file_name(rank)) in trace
    assert WEIGHTS.name not in trace
    table = invoke("results", "-r", results, "--format", "csv").stdout
    assert shares.sha256(directory / shares.MANIFEST) in table  # its row names the set


def _copy(saved, framework: str, parties: int, tmp_path: Path) -> Path:
    out = tmp_path / "set"
    shutil.copytree(saved(framework, parties), out)
    return out


def _swap(a: Path, b: Path) -> None:
    tmp = a.with_suffix(".tmp")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)


def _corrupt_file(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _corrupt(d: Path) -> None:
    _corrupt_file(d / shares.file_name(1))


def _swap_with_manifest(d: Path) -> None:
    """Swapped files, and a manifest rewritten to the swapped checksums."""
    _swap(d / shares.file_name(0), d / shares.file_name(1))
    manifest = json.loads((d / shares.MANIFEST).read_text())
    files = manifest["files"]
    files["0"]["sha256"], files["1"]["sha256"] = files["1"]["sha256"], files["0"]["sha256"]
    (d / shares.MANIFEST).write_text(json.dumps(manifest))


def _from_another_set(d: Path) -> None:
    """Party 1's file re-saved under another set id, its checksum in the manifest."""
    with np.load(d / shares.file_name(1)) as npz:
        arrays = {n: npz[n] for n in npz.files if not n.startswith("meta.")}
    record = shares.save(d, 1, "another-set", arrays)
    manifest = json.loads((d / shares.MANIFEST).read_text())
    manifest["files"]["1"]["sha256"] = record["sha256"]
    (d / shares.MANIFEST).write_text(json.dumps(manifest))


REFUSALS = {
    "party count": ("crypten", 2, None, ["-n", "3"], "holds shares of 2 parties"),
    "missing file": ("crypten", 2, lambda d: (d / shares.file_name(1)).unlink(), [],
                     "party-1.npz of party 1 is missing"),
    "corrupt file": ("crypten", 2, _corrupt, [], "party-1.npz of party 1 is corrupt"),
    "swapped files": ("crypten", 2, lambda d: _swap(d / shares.file_name(0),
                                                      d / shares.file_name(1)), [],
                      "holds the shares of party 1, not of party 0: the files are in the "
                      "wrong rank order"),
    "swapped files and checksums": ("crypten", 2, _swap_with_manifest, [],
                                    "holds the shares of party 1, not of party 0"),
    "file of another set": ("crypten", 2, _from_another_set, [], "belongs to share set "
                            "another-set"),
    "another model": ("crypten", 2, None, ["-m", "bnn"], "holds shares of model mlp"),
    "another dataset": ("crypten", 2, None, ["-d", "fashion"], "trained on mnist"),
    "another framework": ("crypten", 3, None, ["-f", "mpyc", "-n", "3"],
                          "holds crypten shares, the run needs mpyc shares"),
    "another precision": ("mpyc", 3, None, ["--set", "frac_bits=8"],
                          "encoded with frac_bits 7, the run needs 8"),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("why", list(REFUSALS))
def test_bad_share_sets_are_refused_before_any_party_starts(tmp_path, saved, why):
    framework, parties, damage, args, message = REFUSALS[why]
    directory = _copy(saved, framework, parties, tmp_path)
    if damage:
        damage(directory)
    results = tmp_path / "results"
    proc = invoke("run", "-f", framework, "-m", "mlp", "-n", str(parties), "--images",
                  str(IMAGES), "--results", str(results), "--model-shares", str(directory),
                  *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not results.exists()  # nothing stored, no party's log: nothing launched


@pytest.mark.timeout(120)
def test_saving_refuses_a_directory_with_a_share_set_and_a_backend_without_shares(
        tmp_path, saved):
    directory = saved("crypten", 2)
    for args, message in [(["-f", "crypten", "-n", "2"], "already holds a share set"),
                          (["-f", "plaintext", "-n", "1"], "plaintext cannot save")]:
        proc = invoke("run", *args, "-m", "mlp", "--images", str(IMAGES), "--results",
                      str(tmp_path / "results"), "--save-shares", str(directory))
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.timeout(120)
def test_a_run_with_a_dealer_saves_the_computing_parties_shares(tmp_path):
    """CrypTen's TTP dealer (rank 2 here) holds no model shares: the set is the two
    computing parties' files, and it loads."""
    case = Case("crypten", "mlp", parties=2, images=4, batch=4, options={"provider": "TTP"})
    run_case(case, tmp_path / "results", timeout_s=120, save_shares=tmp_path / "shares")
    manifest = json.loads((tmp_path / "shares" / shares.MANIFEST).read_text())
    assert sorted(manifest["files"]) == ["0", "1"]
    assert sorted(p.name for p in (tmp_path / "shares").iterdir()) == [
        shares.MANIFEST, shares.file_name(0), shares.file_name(1)]
    shares.check(tmp_path / "shares", shares.expected(case, manifest["encoding"]))


def _per_host(saved, tmp_path: Path, hosts: list[str]) -> Path:
    """The 2-party CrypTen set split as on separate hosts: ``tmp_path/<host>/set`` holds
    the manifest and that host's party file only; ``tmp_path/launcher/set`` the manifest."""
    source = saved("crypten", 2)
    for where, files in [("launcher", []), *[(h, [shares.file_name(r)])
                                              for r, h in enumerate(hosts)]]:
        target = tmp_path / where / "set"
        target.mkdir(parents=True)
        for name in [shares.MANIFEST, *files]:
            shutil.copy(source / name, target / name)
    return tmp_path / "launcher"


def _run_on_hosts(tmp_path: Path, hosts: list[str]) -> subprocess.CompletedProcess:
    """``run --model-shares set`` (relative: each party reads its host's copy, the
    launcher its working directory's) with every party started in its host's directory
    through a remote template."""
    template = f"cd {tmp_path}/{{host}} && PYTHONPATH={REPO} {sys.executable} {{worker}}"
    return invoke("run", *ONCE, "-f", "crypten", "-m", "mlp", "-n", "2", "--images", str(IMAGES),
                  "--hosts", ",".join(hosts), "--remote", template,
                  "--results", str(tmp_path / "results"), "--model-shares", "set")


@pytest.mark.timeout(300)
def test_each_host_keeps_only_its_own_share_file(tmp_path, saved, monkeypatch):
    """Parties started through ``--remote`` each see a directory with the manifest and
    their own file only; they run, and a party whose own file is damaged fails the run
    naming it."""
    hosts = ["127.0.0.1", "localhost"]
    monkeypatch.chdir(_per_host(saved, tmp_path, hosts))  # the launcher's host
    proc = _run_on_hosts(tmp_path, hosts)
    assert proc.returncode == 0, proc.stderr
    _corrupt_file(tmp_path / hosts[1] / "set" / shares.file_name(1))
    proc = _run_on_hosts(tmp_path, hosts)
    assert proc.returncode == 1
    assert "party-1.npz of party 1 is corrupt" in proc.stderr
    assert not party_processes(str(tmp_path))
