"""Local launcher: one OS process per party on this host, watched until all finish.

It knows nothing about cryptography: it writes the run spec, starts
``python -m mpcbench.parties.worker`` once per rank, polls every process against a
deadline, stops all parties as soon as one fails, and returns the per-rank rows.
"""

from __future__ import annotations

import os
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
from ..parties.worker import PROGRESS_FILE, write_spec

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


def _last_line(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
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


def _read_progress(work_dir: Path) -> tuple[int, int] | None:
    try:
        done, total = (work_dir / PROGRESS_FILE).read_text().split()
        return int(done), int(total)
    except (OSError, ValueError):
        return None


def launch(
    template: PartyContext,
    work_dir: Path,
    timeout_s: float,
    on_progress: Callable[[int, int], None] | None = None,
) -> None:
    """Run every party of ``template`` (rank ignored) in ``work_dir``; raise on failure.

    Party ``r`` logs to ``work_dir/party{r}.log``. Returns when all exit 0; otherwise
    stops the others within :data:`GRACE_S` and raises :class:`LaunchError` naming the
    first failed party (or :class:`RunTimeout` naming those still running).
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    spec = work_dir / "spec.json"
    write_spec(spec, template)
    env = {**os.environ, "OMP_NUM_THREADS": str(template.threads),
           "MKL_NUM_THREADS": str(template.threads), "PYTHONUNBUFFERED": "1"}
    parties: list[_Party] = []
    try:
        for rank in range(template.parties):
            log = work_dir / f"party{rank}.log"
            with log.open("w") as fh:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "mpcbench.parties.worker", "--spec", str(spec),
                     "--rank", str(rank)],
                    stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env=env, start_new_session=True,
                )
            parties.append(_Party(rank, proc, log))
        _watch(parties, work_dir, timeout_s, template.case.framework, on_progress)
    finally:
        _stop(parties)


def _watch(
    parties: list[_Party],
    work_dir: Path,
    timeout_s: float,
    framework: str,
    on_progress: Callable[[int, int], None] | None,
) -> None:
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
        if on_progress and (prog := _read_progress(work_dir)):
            on_progress(*prog)
        time.sleep(POLL_S)
