"""Fault injection at named points of a party's life (mpcbench.injection): each
fault is named within its bound, a completed measurement is never lost, nothing is left.

The matrix: POINT (boot, start, setup, infer, result, exit) x FAULT (crash, stop, error, hang)
for a computing party (MPyC, 2 parties) and for CrypTen's TTP dealer; a party started
through a shell (as on another host), stopped before its imports; and the launcher's
points (launch, store) x (crash, error, full) in a sweep: no measurement stored twice or
in part, the cell of a killed sweep run by the next one. Before its result
a fault fails the run, named within 10 s (a hang — alive, idle, like a deadlock — at the
run's timeout, with each party's batch count and kernel state); after its result the
run is stored ``ok`` with a note, within EXIT_S + 5 s.

A party's faults are met under a launcher in this process (:func:`~tests.conftest.invoke`:
the parties inherit the faults from its environment). The launcher's own faults are met
with plaintext cases, whose one party is all they need: what the launcher does at its
points does not depend on the framework (parties that die with a SIGKILLed launcher at
2 and 3 parties: tests/integration/test_lifeline.py). A crash of the launcher, and an
error it does not handle, are met by the ``mpcbench`` script in a process of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpcbench import injection, results
from mpcbench.launch.local import EXIT_S
from tests.conftest import ONCE, REPO, invoke, nothing_left, unwarned

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

#: a short run with two batches, so that every point comes before its end (at the
#: framework's default party count: 2, or 1 for plaintext)
RUN = [*ONCE, "-m", "mlp", "--images", "8", "--batch", "4"]
#: the points after a party's result line
AFTER_RESULT = ("result", "exit")
#: the run timeout of the hang cases (a hung party is alive: only the timeout ends it)
HANG_TIMEOUT_S = 12


def _cli(tmp_path: Path, args: list[str], faults: list[tuple[str, int | str, str]],
         own_process: bool = False) -> tuple[subprocess.CompletedProcess, float]:
    """``mpcbench ARGS`` with each ``(point, who, fault)`` of ``faults``, in this process
    or (``own_process``) the script in its own; the CLI's result and the seconds from the
    last fault to the CLI's end."""
    log = tmp_path / "injected"
    log.unlink(missing_ok=True)  # (of an earlier command)
    env = {injection.ENV: ",".join(injection.spec(*f) for f in faults),
           injection.LOG_ENV: str(log)}
    if own_process:
        proc = subprocess.run([sys.executable, "-m", "mpcbench", *args], cwd=REPO,
                              env={**os.environ, **env}, capture_output=True, text=True,
                              timeout=200)
    else:
        injection._met.clear()  # this process's launcher meets each fault anew
        proc = invoke(*args, env=env)
    ended = time.time()
    met = log.read_text().splitlines() if log.exists() else []
    assert len(met) == len(faults), f"not every fault was met: {met} {proc.stderr}"
    return proc, ended - max((float(line.split()[-1]) for line in met), default=ended)


def _inject(tmp_path: Path, framework: str, faults: list[tuple[str, int | str, str]],
            *extra: str, own_process: bool = False) -> tuple[subprocess.CompletedProcess, float]:
    """``mpcbench run`` of ``framework`` with ``faults`` (see :func:`_cli`)."""
    hangs = any(f == "hang" and p not in AFTER_RESULT for p, _, f in faults)
    return _cli(tmp_path, ["run", "-f", framework, *RUN, *extra, "--timeout",
                           str(HANG_TIMEOUT_S if hangs else 60), "-r", str(tmp_path / "r")],
                faults, own_process)


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
        (line,) = unwarned(proc.stderr)  # a dealer makes 3 processes
        named = {"crash": "was killed by SIGKILL",
                 "stop": "is stopped: the kernel reports it stopped by a signal",
                 "error": "exited with code 1: mpcbench.injection.Injected"}[fault]
        assert f"{label} " in line and named in line, line
        assert stored["status"].tolist() == ["failed"]
        assert took < 10
    nothing_left(str(tmp_path))


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
    nothing_left(str(tmp_path))


#: what befalls a party (a full disk is an error like any other there)
PARTY_FAULTS = ("crash", "stop", "error", "hang")
#: every point before the result x fault; a hang there (the timeout's to end) once
BEFORE = [(p, f) for p in injection.PARTY_POINTS if p not in AFTER_RESULT for f in PARTY_FAULTS
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
def test_a_remote_party_stopped_before_its_imports_is_named_from_its_pulse(tmp_path):
    """A party the launcher cannot see in /proc (as on another host) is known by its pulse
    alone, which beats before the party imports torch and its framework."""
    through_a_shell = ["--remote", f"cd {REPO} && {sys.executable} {{worker}}; true",
                       "--hosts", "127.0.0.1"]
    proc, took = _inject(tmp_path, "mpyc", [("start", 1, "stop")], *through_a_shell)
    print(f"remote party: stop at start: named {took:.1f} s after the fault")
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert ("party 1 of 2 (mpyc) is stopped: the kernel of host 127.0.0.1 reports it "
            "stopped by a signal (state T)") in line, line
    assert took < 10
    nothing_left(str(tmp_path))


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


#: two cells, so that a sweep goes on (or not) after the first
SUITE = """
name: two
frameworks: [plaintext]
models: [mlp]
images: 8
batch_sizes: [4, 8]
timeout_s: 60
"""


def _sweep(tmp_path: Path, faults: list[tuple[str, str, str]] = (), own_process: bool = False
           ) -> tuple[subprocess.CompletedProcess, float]:
    suite = tmp_path / "two.yaml"
    suite.write_text(SUITE)
    return _cli(tmp_path, ["sweep", str(suite), "-r", str(tmp_path / "r")], list(faults),
                own_process)


def _cells(tmp_path: Path) -> list[tuple[int, str]]:
    """(batch, status) of every stored run."""
    runs = results.load(tmp_path / "r").drop_duplicates("run_id")
    return sorted(zip(runs["batch"], runs["status"], strict=True))


@pytest.mark.timeout(300)  # two sweeps of two cells
@pytest.mark.parametrize("point", ["launch", "store"])
def test_a_sweep_killed_at_a_launcher_point_is_finished_by_the_next(tmp_path, point):
    """SIGKILL of the sweep with its parties started, or while it stores their results:
    its parties are gone within 5 s, nothing of that run is stored (not even in part), and
    the next sweep takes over the dead sweep's cell and runs each cell once."""
    proc, _ = _sweep(tmp_path, [(point, injection.LAUNCHER, "crash")], own_process=True)
    assert proc.returncode == -9
    gone = nothing_left(str(tmp_path))
    print(f"launcher: crash at {point}: its parties gone {gone:.2f} s after it")
    assert results.load(tmp_path / "r").empty
    again, _ = _sweep(tmp_path)
    assert again.returncode == 0, again.stderr
    assert _cells(tmp_path) == [(4, "ok"), (8, "ok")]
    # what the killed sweep left (its run's log directory, its temporary file) is gone
    assert list((tmp_path / "r").glob(".*.tmp")) == []
    assert list((tmp_path / "r" / "logs").iterdir()) == []


def test_an_error_while_storing_fails_that_cell_only_and_says_where_its_results_are(tmp_path):
    proc, _ = _sweep(tmp_path, [("store", injection.LAUNCHER, "error")])
    assert proc.returncode == 1, proc.stderr
    (fail,) = [line for line in proc.stderr.splitlines() if line.startswith("FAIL")]
    assert "was measured but not stored (Injected: fault injected at store of launcher)" in fail
    assert _cells(tmp_path) == [(4, "failed"), (8, "ok")]
    failed = results.load(tmp_path / "r").query("status == 'failed'")
    logs = Path(failed["error"].iloc[0].split("results are in ")[1])
    assert "@mpcbench result " in (logs / "party0.log").read_text()  # the measurement kept
    nothing_left(str(tmp_path))


def test_a_full_disk_while_storing_stops_the_sweep_with_one_line(tmp_path):
    proc, took = _sweep(tmp_path, [("store", injection.LAUNCHER, "full")])
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "No space left on device" in lines[0], proc.stderr
    assert lines[0].endswith("sweep stopped, as every next case would fail the same way")
    assert results.run_files(tmp_path / "r") == []
    assert [p.name for p in (tmp_path / "r").iterdir() if p.suffix == ".tmp"] == []
    assert took < 5
    nothing_left(str(tmp_path))


def test_an_error_of_the_launcher_with_its_parties_running_stops_them(tmp_path):
    """(An error the launcher does not handle: the script's traceback and exit 1.)"""
    proc, took = _inject(tmp_path, "plaintext", [("launch", injection.LAUNCHER, "error")],
                         own_process=True)
    assert proc.returncode == 1
    assert "Injected: fault injected at launch of launcher" in proc.stderr
    assert took < 5
    nothing_left(str(tmp_path))
