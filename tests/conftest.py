"""Shared fixtures: the repo's python, a CLI runner in a subprocess, process-leak checks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """Run ``mpcbench ARGS`` in a real subprocess and capture its output."""
    return subprocess.run([sys.executable, "-m", "mpcbench", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, **kw)


def plugin_env(tmp_path: Path, package: str, modules: dict[str, str],
               **extra: str) -> dict[str, str]:
    """Environment for :func:`run_cli` in which backend package ``package`` (written under
    ``tmp_path``, one module per ``name -> source`` of ``modules``) is registered, plus the
    variables ``extra``."""
    pkg = tmp_path / "plugins" / package
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    for name, source in modules.items():
        (pkg / f"{name}.py").write_text(textwrap.dedent(source))
    return {**os.environ, "MPCBENCH_PLUGINS": package, **extra,
            "PYTHONPATH": os.pathsep.join([str(tmp_path / "plugins"), str(REPO)])}


def party_processes(marker: str) -> list[psutil.Process]:
    """Live party processes whose command line mentions ``marker`` (e.g. a results dir)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "mpcbench.parties.worker" in cmd and marker in cmd:
            found.append(proc)
    return found


def signal_party(proc: subprocess.Popen, marker: str, rank: int, sig: int) -> tuple[float, str]:
    """Send ``sig`` to the live party process of ``rank`` (of the run whose command lines
    mention ``marker``) while the CLI ``proc`` runs; the seconds ``proc`` took to end after
    it, and its stderr. ``proc`` is killed in any case."""
    try:
        victim = next(p for p in party_processes(marker)
                      if p.cmdline()[p.cmdline().index("--rank") + 1] == str(rank))
        victim.send_signal(sig)
        sent_at = time.monotonic()
        _, stderr = proc.communicate(timeout=30)
        return time.monotonic() - sent_at, stderr
    finally:
        proc.kill()


@pytest.fixture
def revealed_logits(monkeypatch) -> list:
    """The logits the output party revealed, one entry per following run of the test
    (captured where the launcher puts them together, before its workload scores them)."""
    return capture_logits(monkeypatch)


def capture_logits(monkeypatch: pytest.MonkeyPatch) -> list:
    """A list that gets the logits revealed by every run while ``monkeypatch`` is active."""
    from mpcbench.launch import record

    seen: list = []
    assemble = record.assemble_logits

    def capture(outputs, images):
        logits = assemble(outputs, images)
        seen.append(logits)
        return logits

    monkeypatch.setattr(record, "assemble_logits", capture)
    return seen


@pytest.fixture
def cli():
    return run_cli
