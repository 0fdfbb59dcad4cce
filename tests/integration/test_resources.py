"""Per-party resources on this machine: parties pinned to cores, and a memory cap that
fails the run naming it. Every cgroup made for a run is gone after it."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import psutil
import pytest

from mpcbench import results
from mpcbench.launch.resources import MEMORY_ROOT
from tests.conftest import ONCE, REPO, invoke, party_processes

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _groups() -> list:
    return sorted(MEMORY_ROOT.glob("mpcbench-*"))


@pytest.mark.crypten
def test_parties_are_pinned_and_the_pinning_is_recorded(tmp_path):
    res = tmp_path / "r"
    cli = psutil.Popen([sys.executable, "-m", "mpcbench", "run", *ONCE, "-f", "crypten",
                        "-m", "mlp", "-n", "2", "--images", "256", "--batch", "32", "--cpus", "1;0",
                        "--memory", "2GiB", "-r", str(res)], cwd=REPO, stdout=-1, stderr=-1,
                       text=True)
    seen: dict[int, list[int]] = {}
    deadline = time.monotonic() + 60
    while len(seen) < 2 and time.monotonic() < deadline and cli.poll() is None:
        for p in party_processes(str(res)):
            try:
                if not Path(p.cmdline()[0]).name.startswith("python"):
                    continue  # the wrapper (taskset) before it has pinned and exec'd python
                rank = int(p.cmdline()[p.cmdline().index("--rank") + 1])
                seen[rank] = p.cpu_affinity()
            except (psutil.NoSuchProcess, ValueError):
                pass
        time.sleep(0.2)
    _, stderr = cli.communicate(timeout=150)
    assert cli.returncode == 0, stderr
    assert seen == {0: [1], 1: [0]}
    config = json.loads(results.load(res)["backend_config"].iloc[0])
    assert config["placement"]["resources"] == [
        {"cpus": [1], "memory_cap_bytes": 2 * 2**30}, {"cpus": [0], "memory_cap_bytes": 2**31}]
    assert not _groups()


@pytest.mark.crypten
def test_a_party_over_its_memory_cap_fails_the_run_naming_the_cap(tmp_path):
    res = tmp_path / "r"
    proc = invoke("run", *ONCE, "-f", "crypten", "-m", "mlp", "-n", "2", "--images", "64",
                  "--memory", "100MiB", "-r", str(res))
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert "went over its memory cap of 100 MiB" in line and "party" in line
    df = results.load(res)
    assert df["status"].tolist() == ["failed"] and "memory cap" in df["error"].iloc[0]
    assert not _groups() and not party_processes(str(res))


@pytest.mark.parametrize(("args", "message"), [
    (["--cpus", "0;7"], "core 7 does not exist"),
    (["--cpus", "x"], "is not a core"),
    (["--memory", "lots"], "is not a size"),
    (["--memory", "1MiB"], "below 32 MiB"),
])
def test_bad_resources_are_refused(tmp_path, args, message):
    proc = invoke("run", "-f", "plaintext", "-m", "mlp", *args, "-r", str(tmp_path / "r"))
    assert proc.returncode == 2 and message in proc.stderr
    assert not (tmp_path / "r").exists()
