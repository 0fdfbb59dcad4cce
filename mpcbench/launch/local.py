"""Party launcher: one OS process per party, on this host or through a remote command.

It knows nothing about cryptography: it writes the run spec, starts the party program
(:mod:`mpcbench.parties.worker`) once per rank — directly, or through a shell template
such as ``ssh {host} "cd mpcbench && .venv/bin/python {worker}"`` for other hosts — polls
every process against a deadline and its liveness (:mod:`.liveness`: a stopped party is
named, a slow one never), stops all parties as soon as one fails, and returns what each party
reported on its standard output. A run's dealers (ranks after the computing parties',
e.g. CrypTen's trusted third party) are started, watched and stopped the same way and
named as such (``dealer (rank 2) of 2 parties``). Every party's standard input is a
pipe the launcher holds open, and a local party dies with the launcher process
(:mod:`mpcbench.parties.lifeline`), so no party outlives its launcher, even a SIGKILLed one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from .. import injection
from ..errors import RunFailed
from ..owner import LAUNCHER_PID
from ..parties.context import PartyContext, spec_json
from ..parties.pulse import Beat
from ..parties.worker import MARKER
from .contention import Neighbours
from .liveness import AttentiveClock, Liveness
from .placement import Placement, worker_args

POLL_S = 0.05
#: how often the placement's own watch (e.g. of an emulated network) is asked
WATCH_S = 1.0
#: time a party gets to exit after SIGTERM before SIGKILL
GRACE_S = 2.0
#: time the parties get to exit once every one has reported its result; a party still
#: running then is stopped and noted, and the run's results are kept
EXIT_S = 5.0


class LaunchError(RunFailed):
    """A party failed or the run timed out; the message names the party."""


class RunTimeout(LaunchError):
    """The run exceeded its deadline."""

    status = "timeout"


@dataclass
class _Party:
    rank: int
    #: how messages name it: ``party 1 of 3`` or ``dealer (rank 3) of 3 parties``
    label: str
    proc: subprocess.Popen
    log: Path
    #: what is known of whether it is alive
    live: Liveness
    #: how far the log has been scanned for report lines
    offset: int = 0
    #: whether its result line has come (it beats no more while its process exits)
    reported: bool = False


def _reports(text: str, kind: str) -> list[str]:
    prefix = f"{MARKER} {kind} "
    return [line[len(prefix):] for line in text.splitlines() if line.startswith(prefix)]


def _last_line(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines()
             if ln.strip() and not ln.startswith(MARKER)]
    return lines[-1] if lines else "(no output)"


def _label(rank: int, parties: int) -> str:
    if rank < parties:
        return f"party {rank} of {parties}"
    return f"dealer (rank {rank}) of {parties} parties"


def _describe_exit(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _stop(parties: list[_Party]) -> None:
    """SIGTERM every still-running party's process group (and SIGCONT, so that a stopped
    one sees it), SIGKILL after a grace time, then close the parties' standard input."""
    for p in parties:
        if p.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(p.proc.pid, signal.SIGTERM)
                os.killpg(p.proc.pid, signal.SIGCONT)
    deadline = time.monotonic() + GRACE_S
    for p in parties:
        try:
            p.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(p.proc.pid, signal.SIGKILL)
            p.proc.wait()
    for p in parties:
        with suppress(OSError):
            p.proc.stdin.close()


def launch(
    template: PartyContext,
    work_dir: Path,
    timeout_s: float,
    on_progress: Callable[[int, int], None] | None = None,
    placement: Placement | None = None,
    neighbours: Neighbours | None = None,
) -> list[dict]:
    """Run every party of ``template`` (rank ignored); return each rank's result report.

    Every rank of ``template.addresses`` runs: the computing parties, then the dealers.
    Once every party has reported its result the run is complete: a party that then
    fails, or has not exited after :data:`EXIT_S`, is stopped and noted (``note``).
    Party ``r`` is started by ``placement.starters[r]`` (default: this machine's Python;
    see :mod:`.placement`), logs to ``work_dir/party{r}.log`` and reads the run spec
    ``work_dir/spec.json`` (on its standard input if the placement says so). Its standard
    input is a pipe the launcher holds open. On the first failure (an exit, a party
    stopped, or a remote one silent: :mod:`.liveness`) the others are stopped within
    :data:`GRACE_S` and :class:`LaunchError` names the failed party; past ``timeout_s``,
    :class:`RunTimeout` names those still running. Each result report gets the party's
    ``liveness`` record. ``neighbours``, if given, is sampled while the parties run and
    closed when they are gone. Call it from the thread that stays until it returns (any
    thread of a process does): local parties die with that thread.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    spec = work_dir / "spec.json"
    spec.write_text(spec_json(template))
    env = {**os.environ, "OMP_NUM_THREADS": str(template.threads),
           "MKL_NUM_THREADS": str(template.threads), "PYTHONUNBUFFERED": "1",
           LAUNCHER_PID: str(os.getpid())}
    starters = (placement.starters if placement
                else [lambda args: [sys.executable, *args]] * len(template.addresses))
    on_stdin = placement is not None and placement.spec_on_stdin
    # a party started directly on this machine is the process the launcher started
    here = placement is None or placement.on_this_machine
    hosts = placement.hosts if placement else ("127.0.0.1",) * len(starters)
    clock = AttentiveClock()
    parties: list[_Party] = []
    try:
        for rank, start in enumerate(starters):
            log = work_dir / f"party{rank}.log"
            with log.open("w") as fh:
                proc = subprocess.Popen(
                    start(worker_args(rank, "-" if on_stdin else str(spec),
                                      template.run_id)), stdout=fh,
                    stderr=subprocess.STDOUT, stdin=subprocess.PIPE, env=env,
                    start_new_session=True,
                )
            live = Liveness(hosts[rank], clock.tick(), proc.pid if here else None)
            parties.append(_Party(rank, _label(rank, template.parties), proc, log, live))
            if on_stdin:
                with suppress(BrokenPipeError):  # a party that is gone is reported by _watch
                    proc.stdin.write(spec.read_bytes() + b"\n")
                    proc.stdin.flush()
        injection.at("launch", injection.LAUNCHER)
        _watch(parties, work_dir, timeout_s, template, clock, on_progress,
               placement.watch if placement else None, neighbours)
        notes = {p.rank: _exit_note(p) for p in parties}
    finally:
        _stop(parties)
        if neighbours is not None:
            neighbours.stop()
    results = []
    for p in parties:
        found = _reports(p.log.read_text(errors="replace"), "result")
        if not found:
            raise LaunchError(f"{p.label} exited without a result (log: {p.log})")
        results.append({**json.loads(found[-1]), "liveness": p.live.record(),
                        "note": notes[p.rank]})
    return results


def _exit_note(party: _Party) -> str | None:
    """What became of a party after its result, if it did not simply exit."""
    code = party.proc.poll()
    if code is None:
        return f"{party.label} did not exit within {EXIT_S:g} s of its result and was stopped"
    if code != 0:
        return f"{party.label} {_describe_exit(code)} after its result"
    return None


def _scan(party: _Party, now: float) -> tuple[int, int] | None:
    """Read the party's new log lines: note heartbeats and result; the latest progress."""
    with party.log.open("rb") as fh:
        fh.seek(party.offset)
        chunk = fh.read()
    complete = chunk[: chunk.rfind(b"\n") + 1]
    party.offset += len(complete)
    text = complete.decode(errors="replace")
    if beats := _reports(text, "heartbeat"):
        party.live.heard(Beat.parse(beats[-1]), now)
    party.reported = party.reported or bool(_reports(text, "result"))
    found = _reports(text, "progress")
    if not found:
        return None
    done, total = found[-1].split()
    return int(done), int(total)


def _watch(
    parties: list[_Party],
    work_dir: Path,
    timeout_s: float,
    template: PartyContext,
    clock: AttentiveClock,
    on_progress: Callable[[int, int], None] | None,
    watch: Callable[[], str | None] | None = None,
    neighbours: Neighbours | None = None,
) -> None:
    framework = template.case.framework
    deadline = time.monotonic() + timeout_s
    watched = time.monotonic()
    complete: float | None = None  # when the last result came
    while True:
        now, attentive = time.monotonic(), clock.tick()
        if now - watched >= WATCH_S:
            watched = now
            if neighbours is not None:
                neighbours.sample()
            if watch and (why := watch()):
                raise LaunchError(f"{framework} run stopped: {why}")
        codes = {p.rank: p.proc.poll() for p in parties}
        for p in parties:  # after the poll: what an exited party wrote is read
            prog = _scan(p, attentive)
            if prog and on_progress and p.rank == 0:
                on_progress(*prog)
        # a party's failure after its result costs nothing measured (see _exit_note)
        failed = [p for p in parties if codes[p.rank] not in (None, 0) and not p.reported]
        if failed:
            # A party killed by a signal is the cause; its peers' errors are consequences.
            first = min(failed, key=lambda p: (codes[p.rank] >= 0, p.rank))
            raise LaunchError(
                f"{first.label} ({framework}) "
                f"{_describe_exit(codes[first.rank])}: {_last_line(first.log)} "
                f"(log: {first.log})"
            )
        if all(c is not None for c in codes.values()):
            return
        if all(p.reported for p in parties):
            complete = complete if complete is not None else now
            if now - complete >= EXIT_S:
                return
        for p in parties:
            if codes[p.rank] is None and not p.reported and (why := p.live.verdict(attentive)):
                raise LaunchError(f"{p.label} ({framework}) {why} (log: {p.log})")
        if now > deadline:
            n = template.parties
            running = ", ".join(f"{r}{' (dealer)' if r >= n else ''}"
                                for r, c in codes.items() if c is None)
            steps = ", ".join(f"party {p.rank}: {p.live.summary()}"
                              for p in parties if p.rank < n)
            raise RunTimeout(
                f"{framework} run timed out after {timeout_s:g} s; parties still running: "
                f"{running} (batches done: {steps}; logs in {work_dir})"
            )
        time.sleep(POLL_S)
