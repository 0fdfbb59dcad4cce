"""No party outlives its launcher, and a hung party is named: real processes, checked
from outside with psutil."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from mpcbench import results
from mpcbench.case import Case
from mpcbench.launch.liveness import silence_allowed
from mpcbench.owner import LAUNCHER_PID
from mpcbench.parties.context import PartyContext, spec_json
from mpcbench.parties.lifeline import ORPHANED
from mpcbench.parties.pulse import Beat
from tests.conftest import ONCE, REPO, party_processes

pytestmark = [pytest.mark.integration, pytest.mark.mpyc, pytest.mark.timeout(60)]

#: the cheapest real multi-party run that lasts long enough: MPyC mlp, ~30 s of work
LONG_RUN = [*ONCE, "-f", "mpyc", "-m", "mlp", "--images", "10000", "--batch", "64"]


def _start(tmp_path: Path, *args: str, command: str = "run") -> subprocess.Popen:
    """``mpcbench COMMAND`` in the background; returns once its parties are computing."""
    proc = subprocess.Popen([sys.executable, "-m", "mpcbench", command, *args,
                             "-r", str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 40
    while not any("@mpcbench progress" in log.read_text()
                  for log in tmp_path.glob("logs/*/party0.log")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "run never started"
        time.sleep(0.1)
    return proc


def _descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``procs`` still running (zombies awaiting a reaper count as gone)."""
    alive = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


def _gone_within(procs: list[psutil.Process], seconds: float) -> float:
    """Seconds until all ``procs`` are gone; fails past ``seconds``."""
    start = time.monotonic()
    while _alive(procs):
        assert time.monotonic() - start < seconds, [p.cmdline() for p in _alive(procs)]
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129),
                                               (signal.SIGINT, 130)])
def test_stop_signal_stops_every_party(tmp_path, signum, status):
    proc = _start(tmp_path, *LONG_RUN, "-n", "2")
    parties = party_processes(str(tmp_path))
    assert len(parties) == 2
    try:
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == status, stderr
    assert f"stopped by {signal.Signals(signum).name}" in stderr
    _gone_within(parties, 5)
    assert party_processes(str(tmp_path)) == []
    assert results.run_files(tmp_path) == []  # an interrupted run stores nothing


def test_sigterm_to_a_sweep_stops_its_parties_and_the_sweep(tmp_path):
    suite = tmp_path / "long.yaml"
    suite.write_text("frameworks: [mpyc]\nmodels: [mlp, bnn]\nimages: 10000\n")
    proc = _start(tmp_path, str(suite), command="sweep")
    parties = party_processes(str(tmp_path))
    assert len(parties) == 2
    try:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 143, stderr
    _gone_within(parties, 5)
    assert party_processes(str(tmp_path)) == []  # and the bnn case never started
    assert results.run_files(tmp_path) == []


@pytest.mark.parametrize("remote", [None, "cd {cwd} && {python} {{worker}}; true"],
                         ids=["local", "through-a-shell"])
def test_parties_die_with_a_sigkilled_launcher(tmp_path, remote):
    """Local parties by PR_SET_PDEATHSIG; a party under a shell (as under ssh) by the end of
    file on the standard input the launcher held."""
    args = [*LONG_RUN, "-n", "2"]
    if remote:
        args += ["--remote", remote.format(cwd=REPO, python=sys.executable),
                 "--hosts", "127.0.0.1"]
    proc = _start(tmp_path, *args)
    parties = _descendants(proc.pid)
    workers = [p for p in parties if "mpcbench.parties.worker" in " ".join(p.cmdline())
               and "bash" not in p.name()]
    assert len(workers) == 2
    if remote:  # the workers' parent is the shell, so only the pipe can tell them
        assert {p.ppid() for p in workers}.isdisjoint({proc.pid})
    proc.kill()
    proc.wait()
    took = _gone_within(parties, 5)
    print(f"parties gone {took:.2f} s after SIGKILL to the launcher")


THROUGH_A_SHELL = ["--remote", f"cd {REPO} && {sys.executable} {{worker}}; true",
                   "--hosts", "127.0.0.1"]


def _pulse_of(party: psutil.Process) -> psutil.Process:
    (pulse,) = [c for c in party.children() if "pulse.py" in " ".join(c.cmdline())]
    return pulse


# A party the launcher did not start itself, as on another host (a local party stopped at
# every point of its life: tests/integration/test_faults.py).
@pytest.mark.parametrize(("frozen", "named"), [
    # its pulse reports what its host's kernel says
    ("party", "is stopped: the kernel of host 127.0.0.1 reports it stopped by a signal "
              "(state T)"),
    # party and pulse frozen: only the silence is known, and the host's load at its last beat
    ("party and pulse", "sent no heartbeat for"),
])
def test_a_stopped_remote_party_is_named(tmp_path, frozen, named):
    proc = _start(tmp_path, *LONG_RUN, "-n", "3", *THROUGH_A_SHELL)
    parties = _descendants(proc.pid)  # with their pulses and shells
    victim = next(p for p in parties  # (remote: the spec comes on stdin, not as a path)
                  if "mpcbench.parties.worker" in p.cmdline() and "bash" not in p.name()
                  and p.cmdline()[p.cmdline().index("--rank") + 1] == "1")
    try:
        frozen_procs = [victim, *([_pulse_of(victim)] if frozen != "party" else [])]
        for p in frozen_procs:
            p.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        _, stderr = proc.communicate(timeout=50)
        took = time.monotonic() - stopped_at
    finally:
        proc.kill()
    print(f"{frozen} of a remote party reported {took:.2f} s after SIGSTOP: {stderr}")
    assert proc.returncode == 1, stderr
    assert f"party 1 of 3 (mpyc) {named}" in stderr
    bound = 10.0
    if seen := re.search(r"load ([\d.]+) on (\d+) cores", stderr):  # silence: load-scaled
        bound = 4 + silence_allowed(Beat(0, load=float(seen[1]), cores=int(seen[2])))
    assert took < bound
    _gone_within(parties, 5)
    stored = results.load(tmp_path)
    assert stored["status"].tolist() == ["failed"]
    assert f"party 1 of 3 (mpyc) {named}" in stored["error"].iloc[0]


def _waiting_party_spec() -> str:
    """Spec of party 0 of a 2-party MPyC run whose party 1 never comes: it waits."""
    ctx = PartyContext(rank=-1, parties=2, case=Case("mpyc", "mlp"),
                       addresses=("127.0.0.1:1", "127.0.0.1:2"))
    return spec_json(ctx) + "\n"


def test_a_party_exits_when_its_standard_input_closes():
    proc = subprocess.Popen(
        [sys.executable, "-m", "mpcbench.parties.worker", "--spec", "-", "--rank", "0",
         "--watch-stdin"], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        proc.stdin.write(_waiting_party_spec())
        proc.stdin.flush()
        assert proc.stdout.readline().startswith("@mpcbench heartbeat ")  # spec read, running
        proc.stdin.close()
        closed_at = time.monotonic()
        assert proc.wait(timeout=5) == ORPHANED
        assert time.monotonic() - closed_at < 2
        # (said on standard error, which the party's pulse forwards with its output)
        assert "launcher gone" in proc.stdout.read() + proc.stderr.read()
    finally:
        proc.kill()


_LAUNCHER = """
import os, subprocess, sys, time
with open(sys.argv[2], "w") as log:
    party = subprocess.Popen([sys.executable, "-m", "mpcbench.parties.worker", "--spec",
                              sys.argv[1], "--rank", "0"], stdin=subprocess.DEVNULL,
                             stdout=log, env={**os.environ, sys.argv[3]: str(os.getpid())})
print(party.pid, flush=True)
time.sleep(60)
"""


def test_a_local_party_asks_to_die_with_its_launcher(tmp_path):
    """PR_SET_PDEATHSIG alone: no standard input to watch."""
    spec, log = tmp_path / "spec.json", tmp_path / "party0.log"
    spec.write_text(_waiting_party_spec())
    launcher = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, str(spec), str(log), LAUNCHER_PID], cwd=REPO,
        stdout=subprocess.PIPE, text=True)
    party = psutil.Process(int(launcher.stdout.readline()))
    try:
        deadline = time.monotonic() + 30
        while "@mpcbench heartbeat" not in log.read_text():  # past its prctl call
            assert time.monotonic() < deadline and launcher.poll() is None
            time.sleep(0.1)
        launcher.kill()
        launcher.wait()
        _gone_within([party], 2)
    finally:
        launcher.kill()
        if _alive([party]):
            party.kill()
