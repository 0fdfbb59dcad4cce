"""Fault injection at named points of a party's life (mpcbench.parties.injection): each
fault is named within its bound, a completed measurement is never lost, nothing is left.

The matrix: POINT (boot, start, setup, infer, result, exit) x FAULT (crash, stop, error, hang)
for a computing party (MPyC, 2 parties) and for CrypTen's TTP dealer. Before its result
a fault fails the run, named within 10 s (a hang — alive, idle, like a deadlock — at the
run's timeout, with each party's batch count and kernel state); after its result the
run is stored ``ok`` with a note, within EXIT_S + 5 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from mpcbench import results
from mpcbench.launch.local import EXIT_S
from mpcbench.parties import injection
from tests.conftest import REPO, party_processes

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

#: a short run with two batches, so that every point comes before its end
RUN = ["-m", "mlp", "-n", "2", "--images", "8", "--batch", "4"]
#: the points after a party's result line
AFTER_RESULT = ("result", "exit")
#: the run timeout of the hang cases (a hung party is alive: only the timeout ends it)
HANG_TIMEOUT_S = 12


def _inject(tmp_path: Path, framework: str, faults: list[tuple[str, int, str]],
            *extra: str) -> tuple[subprocess.CompletedProcess, float]:
    """``mpcbench run`` with each ``(point, rank, fault)`` of ``faults``; the CLI's result
    and the seconds from the last fault to the CLI's end."""
    log = tmp_path / "injected"
    env = {**os.environ, injection.ENV: ",".join(injection.spec(*f) for f in faults),
           injection.LOG_ENV: str(log)}
    hangs = any(f == "hang" and p not in AFTER_RESULT for p, _, f in faults)
    proc = subprocess.run(
        [sys.executable, "-m", "mpcbench", "run", "-f", framework, *RUN, *extra,
         "--timeout", str(HANG_TIMEOUT_S if hangs else 60), "-r", str(tmp_path / "r")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=100)
    ended = time.time()
    met = log.read_text().splitlines() if log.exists() else []
    assert len(met) == len(faults), f"not every fault was met: {met} {proc.stderr}"
    return proc, ended - max(float(line.split()[-1]) for line in met)


def _orphaned_pulses() -> list[psutil.Process]:
    """Pulse processes whose party is gone (none may outlive its party)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if any(c.endswith("parties/pulse.py") for c in cmd) and not psutil.pid_exists(
                int(cmd[-1])):
            found.append(p)
    return found


def _nothing_left(tmp_path: Path) -> None:
    time.sleep(0.5)
    assert party_processes(str(tmp_path)) == []
    assert _orphaned_pulses() == []


def _failed(tmp_path: Path, proc: subprocess.CompletedProcess, took: float, label: str,
            fault: str) -> None:
    """A fault before the party's result: the run failed, the party named in time."""
    stored = results.load(tmp_path / "r")
    if fault == "hang":  # alive and idle: a deadlock, ended by the run's timeout
        assert proc.returncode == 1
        assert stored["status"].tolist() == ["timeout"]
        assert f"timed out after {HANG_TIMEOUT_S} s" in stored["error"].iloc[0]
        assert "(state S, " in stored["error"].iloc[0]  # the kernel's word on each party
        assert took < HANG_TIMEOUT_S + 5
    else:
        assert proc.returncode == 1
        (line,) = proc.stderr.strip().splitlines()
        named = {"crash": "was killed by SIGKILL",
                 "stop": "is stopped: the kernel reports it stopped by a signal",
                 "error": "exited with code 1: mpcbench.parties.injection.Injected"}[fault]
        assert f"{label} " in line and named in line, line
        assert stored["status"].tolist() == ["failed"]
        assert took < 10
    _nothing_left(tmp_path)


def _kept(tmp_path: Path, proc: subprocess.CompletedProcess, took: float,
          noted: dict[str, str]) -> None:
    """Faults after the results: the measurement is stored ``ok`` with a note on each
    party of ``noted`` (label -> its fault), in time."""
    assert proc.returncode == 0, proc.stderr
    stored = results.load(tmp_path / "r")
    assert stored["status"].unique().tolist() == ["ok"]
    run = stored[stored["rank"] == -1].set_index("metric")["value"]
    assert run["agreement"] == 1.0
    for label, fault in noted.items():
        note = {"crash": f"{label} was killed by SIGKILL after its result",
                "error": f"{label} exited with code 1 after its result",
                "stop": f"{label} did not exit within {EXIT_S:g} s of its result",
                "hang": f"{label} did not exit within {EXIT_S:g} s of its result"}[fault]
        assert note in stored["note"].iloc[0]
    assert took < EXIT_S + 5
    _nothing_left(tmp_path)


#: every point before the result x fault; a hang there (the timeout's to end) once
BEFORE = [(p, f) for p in injection.POINTS if p not in AFTER_RESULT for f in injection.FAULTS
          if not (f == "hang" and p != "infer")]
#: every fault after the result, two to a run: (fault of party 0 at its result, of party 1
#: at its exit)
AFTER = [("crash", "hang"), ("stop", "error"), ("hang", "crash"), ("error", "stop")]


@pytest.mark.mpyc
@pytest.mark.parametrize(("point", "fault"), BEFORE)
def test_a_fault_of_a_party_before_its_result_fails_the_run_in_time(tmp_path, point, fault):
    proc, took = _inject(tmp_path, "mpyc", [(point, 1, fault)])
    print(f"party: {fault} at {point}: named {took:.1f} s after the fault")
    _failed(tmp_path, proc, took, "party 1 of 2 (mpyc)", fault)


@pytest.mark.mpyc
@pytest.mark.parametrize(("at_result", "at_exit"), AFTER)
def test_faults_of_parties_after_their_results_keep_the_measurement(tmp_path, at_result,
                                                                    at_exit):
    proc, took = _inject(tmp_path, "mpyc", [("result", 0, at_result), ("exit", 1, at_exit)])
    print(f"parties: {at_result} at result, {at_exit} at exit: stored {took:.1f} s after")
    _kept(tmp_path, proc, took, {"party 0 of 2": at_result, "party 1 of 2": at_exit})


@pytest.mark.crypten
@pytest.mark.parametrize(("point", "fault"), [("setup", "crash"), ("setup", "stop"),
                                              ("result", "hang"), ("exit", "crash")])
def test_a_fault_of_the_dealer(tmp_path, point, fault):
    proc, took = _inject(tmp_path, "crypten", [(point, 2, fault)], "--set", "provider=TTP")
    label = "dealer (rank 2) of 2 parties"
    print(f"dealer: {fault} at {point}: {took:.1f} s after the fault")
    if point in AFTER_RESULT:
        _kept(tmp_path, proc, took, {label: fault})
    else:
        _failed(tmp_path, proc, took, f"{label} (crypten)", fault)
