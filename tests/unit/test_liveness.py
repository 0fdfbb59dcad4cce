"""When the launcher names a party as not alive, and what it says: the kernel's word for a
party on this machine, the heartbeats' for one on another host."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from mpcbench.launch import liveness
from mpcbench.launch.liveness import STARTUP_S, STOPPED_S, AttentiveClock, Liveness, silence_allowed
from mpcbench.parties.pulse import Beat, kernel_state


def test_a_remote_party_is_named_after_a_silence_scaled_by_its_hosts_load():
    live = Liveness("hostb", started=0.0)
    live.heard(Beat(3, "R", 12.5, 9.3, 2), now=10.0)
    allowed = silence_allowed(live.beat)
    assert allowed == pytest.approx(liveness.SILENT_S * liveness.LOAD_FACTOR_MAX)
    assert live.verdict(10.0 + allowed - 0.1) is None
    assert live.verdict(10.0 + allowed + 0.1) == (
        f"sent no heartbeat for {allowed + 0.1:.0f} s from host hostb (at its last beat: "
        "load 9.3 on 2 cores, party state R, 3 batches done)")


def test_an_idle_hosts_party_gets_the_base_silence():
    live = Liveness("hostb", started=0.0)
    live.heard(Beat(1, "S", 1.0, 0.2, 8), now=1.0)
    assert silence_allowed(live.beat) == liveness.SILENT_S
    assert live.verdict(1.0 + liveness.SILENT_S + 0.5).endswith("1 batch done)")


def test_a_remote_party_that_never_beats_is_named_after_the_start_up_time():
    live = Liveness("hostb", started=5.0)
    assert live.verdict(5.0 + STARTUP_S - 1) is None
    assert live.verdict(5.0 + STARTUP_S + 1) == (
        f"sent no heartbeat in the {STARTUP_S:g} s since its start (host hostb)")


def test_a_remote_party_whose_host_reports_it_stopped_is_named_after_stopped_s():
    live = Liveness("hostb", started=0.0)
    live.heard(Beat(4, "T", 3.0, 1.0, 2), now=1.0)
    assert live.verdict(1.0) is None  # stopped since now
    assert live.verdict(1.0 + STOPPED_S - 0.1) is None
    assert live.verdict(1.0 + STOPPED_S) == (
        "is stopped: the kernel of host hostb reports it stopped by a signal (state T) "
        "for 2 s, 4 batches done")
    live.heard(Beat(4, "R", 3.1, 1.0, 2), now=1.5 + STOPPED_S)  # continued: alive again
    assert live.verdict(1.5 + STOPPED_S) is None and live.stopped_since is None


def test_a_local_party_is_judged_by_the_kernel_never_by_silence():
    proc = subprocess.Popen(["sleep", "60"])
    try:
        live = Liveness("127.0.0.1", started=0.0, pid=proc.pid)
        assert live.verdict(10 * STARTUP_S) is None  # no beat ever, but the kernel runs it
        proc.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while kernel_state(proc.pid)[0] != "T":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert live.verdict(100.0) is None
        assert live.verdict(100.0 + STOPPED_S) == (
            "is stopped: the kernel reports it stopped by a signal (state T) for 2 s, "
            "0 batches done")
        assert live.summary().startswith("0 (state T, ")
    finally:
        proc.kill()
        proc.wait()
    assert live.verdict(1000.0) is None  # gone: its exit status is the launcher's to read


def test_the_record_keeps_the_longest_gap_between_beats_and_the_highest_load():
    live = Liveness("hostb", started=0.0)
    for now, load in [(1.0, 0.5), (1.5, 2.5), (3.7, 1.0)]:
        live.heard(Beat(0, "R", 0.0, load, 2), now)
    assert live.record() == {"host": "hostb", "longest_beat_gap_s": 2.2, "max_load": 2.5,
                             "cores": 2}


def test_the_attentive_clock_leaves_out_the_launchers_own_lateness(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(liveness.time, "monotonic", lambda: now[0])
    clock = AttentiveClock()
    now[0] += 0.05
    assert clock.tick() == pytest.approx(100.05)
    now[0] += 10.0  # the launcher was not scheduled for 10 s
    assert clock.tick() == pytest.approx(100.05 + liveness.LATE_S)
    assert clock.late_s == pytest.approx(10.0 - liveness.LATE_S)
