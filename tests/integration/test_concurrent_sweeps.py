"""Sweeps into one results directory run each cell once: concurrent sweeps claim their
cells, the claim of a dead sweep is taken over, and a value listed twice is one cell."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict

import psutil
import pytest

from mpcbench import results
from mpcbench.launch.suite import cells, expand, load_suite
from mpcbench.owner import Owner
from mpcbench.results import summary
from mpcbench.results.claims import CLAIMS_DIR
from tests.conftest import ONCE, REPO, invoke

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

#: four plaintext cells, two of them listed twice (mnist, batch 4)
_SUITE = """
name: four
frameworks: [plaintext]
models: [mlp]
datasets: [mnist, fashion, mnist]
batch_sizes: [4, 8, 4]
images: 8
timeout_s: 60
"""


def _sweep(suite, res, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mpcbench", "sweep", str(suite), "-r",
                             str(res), *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _claim(res, fingerprint: str, owner: Owner) -> None:
    path = res / CLAIMS_DIR / fingerprint
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(owner)))


def _sleeper() -> tuple[subprocess.Popen, Owner]:
    """A live process that is not a sweep, and its name as a claim owner."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    return proc, Owner(Owner.this().host, proc.pid, psutil.Process(proc.pid).create_time())


def test_a_value_listed_twice_is_one_cell(tmp_path):
    suite = tmp_path / "four.yaml"
    suite.write_text(_SUITE)
    proc = invoke("sweep", str(suite), "-r", str(tmp_path / "r"), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "4 cases (5 duplicates left out)" in proc.stderr
    listed = [line.split()[1] for line in proc.stdout.splitlines()]
    assert listed == ["plaintext/mlp(dataset=mnist,n=1,b=4)",
                      "plaintext/mlp(dataset=mnist,n=1,b=8)",
                      "plaintext/mlp(dataset=fashion,n=1,b=4)",
                      "plaintext/mlp(dataset=fashion,n=1,b=8)"]


def test_two_concurrent_sweeps_store_each_cell_once(tmp_path):
    suite, res = tmp_path / "four.yaml", tmp_path / "r"
    suite.write_text(_SUITE)
    sweeps = [_sweep(suite, res), _sweep(suite, res)]
    outputs = [p.communicate(timeout=100) for p in sweeps]
    for proc, (_, stderr) in zip(sweeps, outputs, strict=True):
        assert proc.returncode == 0, stderr
    stored = results.load(res)
    assert stored["run_id"].nunique() == 4 and set(stored["status"]) == {"ok"}
    assert stored.groupby("case_fingerprint")["run_id"].nunique().tolist() == [1] * 4
    lines = [line for _, stderr in outputs for line in stderr.splitlines()]
    ran = [line for line in lines if line.startswith("ok ")]
    skipped = [line for line in lines if line.startswith("skip ")]
    assert len(ran) == 4 and len(skipped) == 4, lines
    others = {f"running in sweep pid {p.pid}" for p in sweeps} | {"stored (run"}
    assert all(any(o in line for o in others) for line in skipped), skipped
    assert list((res / CLAIMS_DIR).iterdir()) == []


def test_a_dead_sweeps_claim_is_taken_over_and_a_live_ones_respected(tmp_path):
    suite, res = tmp_path / "two.yaml", tmp_path / "r"
    suite.write_text(_SUITE.replace("[mnist, fashion, mnist]", "[mnist, fashion]")
                     .replace("[4, 8, 4]", "[8]"))
    mnist, fashion = (c.key for c in cells(expand(load_suite(suite))))
    dead, dead_owner = _sleeper()
    dead.kill()
    dead.wait()
    _claim(res, mnist, dead_owner)
    live, live_owner = _sleeper()
    try:
        _claim(res, fashion, live_owner)
        proc = invoke("sweep", str(suite), "-r", str(res), "--rerun")
        assert proc.returncode == 0, proc.stderr
        assert "ok    plaintext/mlp(dataset=mnist,n=1,b=8)  run" in proc.stderr
        assert (f"skip  plaintext/mlp(dataset=fashion,n=1,b=8)  running in sweep pid "
                f"{live.pid}") in proc.stderr
    finally:
        live.kill()
        live.wait()
    stored = results.load(res)
    assert stored["run_id"].nunique() == 1 and set(stored["case_fingerprint"]) == {mnist}
    assert [p.name for p in (res / CLAIMS_DIR).iterdir()] == [fashion]  # the live one's


@pytest.mark.mpyc
def test_runs_that_share_the_machine_are_marked_contended(tmp_path):
    """Two measurements at once: each saw the other's parties and says so on its rows."""
    args = ["run", *ONCE, "-f", "mpyc", "-m", "mlp", "-n", "2", "--images", "256", "--batch", "16"]
    procs = [subprocess.Popen([sys.executable, "-m", "mpcbench", *args, "-r",
                               str(tmp_path / name)], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    for proc in procs:
        _, stderr = proc.communicate(timeout=110)
        assert proc.returncode == 0, stderr
    for name in ("a", "b"):
        df = results.load(tmp_path / name)
        assert df["contended"].all()
        contention = json.loads(df["backend_config"].iloc[0])["contention"]
        assert contention["other_parties"] >= 2  # the other run's two parties
        assert "other work shared the machine" in " ".join(
            summary.summary(df)["oversubscription"].fillna(""))
