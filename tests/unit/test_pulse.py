"""The pulse beats for a party whose own threads cannot run, forwards its output whole,
and ends with it: real processes, read from outside."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time

import psutil

from mpcbench.parties.pulse import Beat
from tests.conftest import REPO

#: a party: its output through the pulse; a report line, then the GIL held in one C call
#: (``sum`` over a range never lets another thread run) for about HOLD_S, then a long line
_PARTY = """
import subprocess, sys, time
from mpcbench.parties import lifeline
with lifeline.pulsed_output():
    print("@mpcbench progress 7 9", flush=True)
    time.sleep(1.2)
    start = time.monotonic()
    n = 10**6
    while time.monotonic() - start < 0.2:  # calibrate one call of about HOLD_S
        t = time.monotonic(); sum(range(n)); per = (time.monotonic() - t) / n; n *= 2
    start = time.monotonic()
    sum(range(int(float(sys.argv[1]) / per)))
    held = time.monotonic() - start
    print("held", round(held, 2), round(time.process_time(), 3), "x" * (1 << 20), flush=True)
    if sys.argv[2] == "leave-a-child":  # a child that keeps the pulse's input open
        subprocess.Popen(["sleep", "37"])
        sys.exit(0)
"""
HOLD_S = 4.0

#: a party whose second thread writes warnings while its main thread writes long lines
_NOISY_PARTY = """
import sys, threading
from mpcbench.parties import lifeline
with lifeline.pulsed_output():
    done = threading.Event()
    def warn():
        while not done.is_set():
            print("warning: noise", file=sys.stderr, flush=True)
    noise = threading.Thread(target=warn)
    noise.start()
    for _ in range(5):
        print("@mpcbench result " + "x" * (1 << 20), flush=True)
    done.set()
    noise.join()
"""


def _read(proc: subprocess.Popen) -> list[tuple[float, str]]:
    """Every line of ``proc``'s output with the time it came."""
    lines = []
    for line in proc.stdout:
        lines.append((time.monotonic(), line.rstrip("\n")))
    return lines


def test_beat_text_round_trips_and_a_bare_step_reads():
    beat = Beat(12, "R", 3.25, 9.31, 2)
    assert Beat.parse(beat.format()) == beat
    assert Beat.parse("5") == Beat(5)


def test_a_party_holding_its_gil_still_beats_and_its_lines_arrive_whole():
    proc = subprocess.Popen([sys.executable, "-c", _PARTY, str(HOLD_S), "stay"], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    lines = _read(proc)
    assert proc.wait(timeout=30) == 0
    texts = [text for _, text in lines]
    (held_line,) = [t for t in texts if t.startswith("held ")]
    held, cpu = (float(v) for v in held_line.split()[1:3])
    assert held > 2.0, "the party did not hold its GIL long enough to test"
    assert held_line.endswith("x" * (1 << 20))  # a 1 MiB line, whole
    assert texts[-1] == held_line  # no beat once the party's output is closed
    beats = [(t, Beat.parse(text.split(" ", 2)[2])) for t, text in lines
             if text.startswith("@mpcbench heartbeat ")]
    times = [t for t, _ in beats]
    assert times[-1] - times[0] > held
    assert max(b - a for a, b in itertools.pairwise(times)) < 1.5
    assert beats[-1][1].step == 7  # the last progress line forwarded
    assert {b.state for _, b in beats} <= set("RSD")
    # the party's CPU time (not the pulse's own), read by the pulse while the party held
    # its GIL: most of what the party reports at the end however loaded the cores are
    assert 0.3 * cpu < beats[-1][1].cpu_s <= cpu + 0.05
    assert beats[-1][1].cores >= 1


def test_a_warning_written_while_a_long_line_is_written_lands_beside_it_not_inside():
    proc = subprocess.run([sys.executable, "-c", _NOISY_PARTY], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    results = [line for line in lines if line.startswith("@mpcbench result ")]
    assert results == ["@mpcbench result " + "x" * (1 << 20)] * 5
    assert "warning: noise" in lines
    assert set(lines) <= {results[0], "warning: noise"} | {
        line for line in lines if line.startswith("@mpcbench heartbeat ")}


def _running(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``procs`` still running (a zombie left to a reaper counts as gone)."""
    out = []
    for p in procs:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def test_the_party_and_its_pulse_end_even_if_a_child_holds_the_pulses_input():
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", _PARTY, "0.5", "leave-a-child"],
                            cwd=REPO, stdout=subprocess.DEVNULL)
    party = psutil.Process(proc.pid)
    try:
        deadline = time.monotonic() + 20
        while not (pulses := [c for c in party.children()
                              if "pulse.py" in " ".join(c.cmdline())]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert proc.wait(timeout=20) == 0
        assert time.monotonic() - started < 9  # it did not wait for the child's output
        gone_by = time.monotonic() + 2
        while _running(pulses):
            assert time.monotonic() < gone_by
            time.sleep(0.05)
    finally:
        for p in psutil.process_iter(["cmdline"]):
            if p.info["cmdline"] == ["sleep", "37"]:
                p.kill()
