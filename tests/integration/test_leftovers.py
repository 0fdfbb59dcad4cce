"""Nothing is left behind by a launcher killed by SIGKILL once ``mpcbench clean`` ran, and
nothing of a live run is touched: real runs on an emulated network with memory cgroups
(root, like CI), checked from outside with psutil."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from mpcbench import results
from mpcbench.launch import leftovers
from mpcbench.launch.logdirs import LOGS, OWNER
from mpcbench.launch.network import namespaces
from mpcbench.launch.resources import MEMORY_ROOT
from mpcbench.owner import LAUNCHER_PID
from tests.conftest import ONCE, REPO, party_processes, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.mpyc, pytest.mark.timeout(90)]

RUN = ["run", *ONCE, "-f", "mpyc", "-m", "mlp", "-n", "2", "--batch", "8", "--network", "lan",
       "--memory", "1GiB"]


def _start(res: Path, images: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mpcbench", *RUN, "--images", str(images),
                             "-r", str(res)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _log_dir(res: Path, launcher: subprocess.Popen) -> Path:
    """The log directory of ``launcher``'s run, once both its parties beat (past their
    PR_SET_PDEATHSIG)."""
    deadline = time.monotonic() + 30
    while True:
        assert launcher.poll() is None, launcher.communicate()
        assert time.monotonic() < deadline, "the parties never started"
        for path in res.glob(f"{LOGS}/*/{OWNER}"):
            logs = [path.parent / f"party{r}.log" for r in range(2)]
            if (json.loads(path.read_text())["pid"] == launcher.pid
                    and all(log.exists() and "@mpcbench heartbeat" in log.read_text()
                            for log in logs)):
                return path.parent
        time.sleep(0.05)


def _started_by(launcher: int) -> list[psutil.Process]:
    """Live processes started for the run of ``launcher``: parties, pulses, forwarder."""
    found = []
    for proc in psutil.process_iter():
        try:
            if (proc.environ().get(LAUNCHER_PID) == str(launcher)
                    and proc.status() != psutil.STATUS_ZOMBIE):
                found.append(proc)
        except psutil.Error:
            pass
    return found


def _kernel_objects(launcher: int) -> list[str]:
    """Network namespaces and memory cgroups named by ``launcher``."""
    return ([n for n in namespaces.listed() if n.startswith(f"{namespaces.PREFIX}{launcher}x")]
            + [g.name for g in MEMORY_ROOT.glob(f"mpcbench-{launcher}-r*")])


def test_clean_removes_what_a_killed_launcher_left_and_nothing_of_a_live_run(tmp_path):
    res = tmp_path / "r"
    killed, live = _start(res, 2048), _start(res, 64)
    stopped: list[psutil.Process] = []
    try:
        killed_dir, live_dir = _log_dir(res, killed), _log_dir(res, live)
        live.send_signal(signal.SIGSTOP)  # in progress until it is continued
        # what a dead launcher cannot count on: a forwarder and a pulse that do not run
        started = _started_by(killed.pid)
        stopped = ([p for p in started if "network.forwarder" in " ".join(p.cmdline())]
                   + [p for p in started if "pulse.py" in " ".join(p.cmdline())][:1])
        assert len(stopped) == 2
        for proc in stopped:
            proc.suspend()
        killed.kill()
        killed.wait()
        deadline = time.monotonic() + 5
        while party_processes(killed_dir.name):  # PR_SET_PDEATHSIG
            assert time.monotonic() < deadline, "a party outlived its launcher"
            time.sleep(0.05)
        assert len(_kernel_objects(killed.pid)) == 4  # 2 namespaces, 2 cgroups

        before = {p.pid for p in _started_by(live.pid)} | {live.pid}
        cleaned = run_cli("clean", "-r", str(res), timeout=30)
        assert cleaned.returncode == 0, cleaned.stderr
        removed = cleaned.stdout.splitlines()
        assert {f"process {p.pid}" for p in stopped} <= {" ".join(ln.split()[:2])
                                                          for ln in removed}
        assert f"log directory {killed_dir}" in removed
        assert not _started_by(killed.pid) and not _kernel_objects(killed.pid)
        assert not killed_dir.exists() and not list(res.rglob("*.tmp"))
        # the live run: untouched
        assert not [ln for ln in removed if live_dir.name in ln
                    or any(f" {pid} " in f" {ln} " for pid in before)
                    or f"{live.pid}x" in ln or f"mpcbench-{live.pid}-" in ln]
        assert live_dir.exists() and len(_kernel_objects(live.pid)) == 4
        live.send_signal(signal.SIGCONT)
        _, stderr = live.communicate(timeout=60)
        assert live.returncode == 0, stderr
        (run,) = results.load(res).groupby("run_id")["status"].first().items()
        assert run == (live_dir.name, "ok")
        assert list((res / LOGS).iterdir()) == []
    finally:
        for proc in (killed, live):
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            proc.wait()
        for proc in stopped:
            if proc.is_running():
                proc.kill()
        leftovers.sweep(res)
