"""Party launcher: one OS process per party, on this host or through a remote command.

It knows nothing about cryptography: it writes the run spec, starts the party program
(:mod:`mpcbench.parties.worker`) once per rank — directly, or through a shell template
such as ``ssh {host} "cd mpcbench && .venv/bin/python {worker}"`` for other hosts — polls
every process against a deadline, stops all parties as soon as one fails, and returns
what each party reported on its standard output.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from ..errors import MpcbenchError
from ..parties.base import PartyContext
from ..parties.worker import MARKER, spec_json

POLL_S = 0.05
#: time a party gets to exit after SIGTERM before SIGKILL
GRACE_S = 2.0


class LaunchError(MpcbenchError):
    """A party failed or the run timed out; the message names the party."""

    status = "failed"


class RunTimeout(LaunchError):
    """The run exceeded its deadline."""

    status = "timeout"


@dataclass
class _Party:
    rank: int
    proc: subprocess.Popen
    log: Path
    #: how far the log has been scanned for progress lines
    offset: int = 0


def _reports(text: str, kind: str) -> list[str]:
    prefix = f"{MARKER} {kind} "
    return [line[len(prefix):] for line in text.splitlines() if line.startswith(prefix)]


def _last_line(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines()
             if ln.strip() and not ln.startswith(MARKER)]
    return lines[-1] if lines else "(no output)"


def _describe_exit(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _stop(parties: list[_Party]) -> None:
    """SIGTERM every still-running party's process group, then SIGKILL after a grace time."""
    for p in parties:
        if p.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(p.proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    for p in parties:
        try:
            p.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(p.proc.pid, signal.SIGKILL)
            p.proc.wait()


def _command(rank: int, spec: Path, remote: str | None, host: str) -> list[str]:
    if remote is None:
        return [sys.executable, "-m", "mpcbench.parties.worker", "--spec", str(spec),
                "--rank", str(rank)]
    worker = f"-m mpcbench.parties.worker --spec - --rank {rank}"
    return ["bash", "-c", remote.format(host=shlex.quote(host), worker=worker)]


def launch(
    template: PartyContext,
    work_dir: Path,
    timeout_s: float,
    on_progress: Callable[[int, int], None] | None = None,
    remote: str | None = None,
) -> list[dict]:
    """Run every party of ``template`` (rank ignored); return each rank's result report.

    Party ``r`` logs to ``work_dir/party{r}.log``. With ``remote`` (a shell template
    with ``{host}`` and ``{worker}``), party ``r`` is started through it for the host of
    ``template.addresses[r]`` and reads the spec on standard input. On the first failure
    the others are stopped within :data:`GRACE_S` and :class:`LaunchError` names the
    failed party; past ``timeout_s``, :class:`RunTimeout` names those still running.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    spec = work_dir / "spec.json"
    spec.write_text(spec_json(template))
    env = {**os.environ, "OMP_NUM_THREADS": str(template.threads),
           "MKL_NUM_THREADS": str(template.threads), "PYTHONUNBUFFERED": "1"}
    parties: list[_Party] = []
    try:
        for rank, address in enumerate(template.addresses):
            log = work_dir / f"party{rank}.log"
            with log.open("w") as fh, spec.open() as spec_in:
                proc = subprocess.Popen(
                    _command(rank, spec, remote, address.rpartition(":")[0]),
                    stdout=fh, stderr=subprocess.STDOUT,
                    stdin=spec_in if remote else subprocess.DEVNULL,
                    env=env, start_new_session=True,
                )
            parties.append(_Party(rank, proc, log))
        _watch(parties, work_dir, timeout_s, template, on_progress)
    finally:
        _stop(parties)
    results = []
    for p in parties:
        found = _reports(p.log.read_text(errors="replace"), "result")
        if not found:
            raise LaunchError(f"party {p.rank} exited without a result (log: {p.log})")
        results.append(json.loads(found[-1]))
    return results


def _progress(party: _Party) -> tuple[int, int] | None:
    with party.log.open(errors="replace") as fh:
        fh.seek(party.offset)
        chunk = fh.read()
    complete = chunk[: chunk.rfind("\n") + 1]
    party.offset += len(complete.encode())
    found = _reports(complete, "progress")
    if not found:
        return None
    done, total = found[-1].split()
    return int(done), int(total)


def _watch(
    parties: list[_Party],
    work_dir: Path,
    timeout_s: float,
    template: PartyContext,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    framework = template.case.framework
    deadline = time.monotonic() + timeout_s
    while True:
        codes = {p.rank: p.proc.poll() for p in parties}
        failed = [p for p in parties if codes[p.rank] not in (None, 0)]
        if failed:
            # A party killed by a signal is the cause; its peers' errors are consequences.
            first = min(failed, key=lambda p: (codes[p.rank] >= 0, p.rank))
            raise LaunchError(
                f"party {first.rank} of {len(parties)} ({framework}) "
                f"{_describe_exit(codes[first.rank])}: {_last_line(first.log)} "
                f"(log: {first.log})"
            )
        if all(c == 0 for c in codes.values()):
            return
        if time.monotonic() > deadline:
            running = ", ".join(str(r) for r, c in codes.items() if c is None)
            raise RunTimeout(
                f"{framework} run timed out after {timeout_s:g} s; parties still running: "
                f"{running} (logs in {work_dir})"
            )
        if on_progress and (prog := _progress(parties[template.output_party])):
            on_progress(*prog)
        time.sleep(POLL_S)
