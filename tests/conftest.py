"""Shared fixtures: the repo's python, the CLI in a subprocess or in this process, what a
run's parties reported, and checks that nothing of a run is left (processes, emulated
hosts)."""

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
#: one measured repeat and no warm-up (``mpcbench run`` does one warm-up and three
#: measured repeats unless told otherwise): what a run tests anything but repeats with
ONCE = ("--repeats", "1", "--warmup", "0")


def run_cli(*args: str, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """Run ``mpcbench ARGS`` in a real subprocess and capture its output."""
    return subprocess.run([sys.executable, "-m", "mpcbench", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, **kw)


def invoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``mpcbench ARGS`` in this process and capture its output like :func:`run_cli`.

    It goes through the same command group as the ``mpcbench`` script (typer's test
    runner; see tests/unit/test_bad_input.py), so the exit status and the one line of an
    error are the script's; the parties of a run are real processes all the same. For
    tests of what a command says, stores and starts, not of its own process (signals to
    it, its death): those use :func:`run_cli`. ``env`` holds variables set while the
    command runs. An exception the command group lets through is raised here.
    """
    from typer.testing import CliRunner

    from mpcbench.cli import app

    res = CliRunner().invoke(app, list(args), env=env)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return subprocess.CompletedProcess(["mpcbench", *args], res.exit_code, res.stdout,
                                       res.stderr)


def unwarned(stderr: str) -> list[str]:
    """The lines of a command's ``stderr`` but blank ones and its warnings: a run whose
    parties outnumber this machine's cores is warned of before it starts (on a small
    machine, not on another)."""
    return [line for line in stderr.splitlines()
            if line.strip() and not line.startswith("warning: ")]


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


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """``plugins(package, modules, **extra)``: backend package ``package`` (as for
    :func:`plugin_env`) registered in this process, for :func:`invoke`, and in the
    environment the parties it starts inherit, plus the variables ``extra``; forgotten
    (registry, modules) after the test."""
    from mpcbench import parties

    packages: list[str] = []

    def register(package: str, modules: dict[str, str], **extra: str) -> None:
        env = plugin_env(tmp_path, package, modules, **extra)
        for name in ("MPCBENCH_PLUGINS", "PYTHONPATH", *extra):
            monkeypatch.setenv(name, env[name])
        monkeypatch.syspath_prepend(str(tmp_path / "plugins"))
        packages.append(package)
        parties.registry.cache_clear()
        parties.get.cache_clear()

    yield register
    for name in [m for m in sys.modules if m.split(".")[0] in packages]:
        del sys.modules[name]
    parties.registry.cache_clear()
    parties.get.cache_clear()


def party_processes(marker: str) -> list[psutil.Process]:
    """Live party processes whose command line mentions ``marker`` (e.g. a results dir)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "mpcbench.parties.worker" in cmd and marker in cmd:
            found.append(proc)
    return found


def _orphaned_pulses() -> list[psutil.Process]:
    """Pulse processes whose party is gone (none may outlive its party)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if any(c.endswith("parties/pulse.py") for c in cmd) and not psutil.pid_exists(
                int(cmd[-1])):
            found.append(p)
    return found


def nothing_left(marker: str, within_s: float = 5.0) -> float:
    """Seconds until no party of the runs whose command lines mention ``marker``, and no
    orphaned pulse, is left (at most ``within_s``)."""
    start = time.monotonic()
    while party_processes(marker) or _orphaned_pulses():
        assert time.monotonic() - start < within_s, party_processes(marker)
        time.sleep(0.05)
    return time.monotonic() - start


def _namespaces() -> list[str]:
    """Emulated hosts left behind: namespaces whose owning process (``mpcb-<pid>x...``) is
    gone (those of other live runs on this machine are theirs)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = [ln.split()[0] for ln in out.splitlines() if ln.startswith("mpcb-")]
    return [n for n in names if not psutil.pid_exists(int(n[5:].split("x")[0]))]


def _tun_devices() -> list[str]:
    """TUN devices of the emulator in this (the launcher's) network: there must be none."""
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if "mpcb" in ln]


@pytest.fixture
def no_emulated_hosts_left():
    """After the test: no emulated host (namespace) or TUN device of its runs is left."""
    yield
    deadline = time.monotonic() + 10
    while _namespaces() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _namespaces() and not _tun_devices()


@pytest.fixture
def party_results(monkeypatch) -> list:
    """Each party's result line (rows, config, the logits it learnt), one list per run."""
    return capture_results(monkeypatch)


def _returns(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list:
    """A list that gets what ``owner.name`` returns, call by call, while ``monkeypatch``
    is active (the function itself still runs and returns it)."""
    seen: list = []
    function = getattr(owner, name)

    def capture(*args, **kwargs):
        value = function(*args, **kwargs)
        seen.append(value)
        return value

    monkeypatch.setattr(owner, name, capture)
    return seen


def capture_results(monkeypatch: pytest.MonkeyPatch) -> list:
    """A list that gets every party's result line, one list per run, of every run while
    ``monkeypatch`` is active."""
    from mpcbench.launch import runner

    return _returns(monkeypatch, runner, "launch")


@pytest.fixture
def revealed_logits(monkeypatch) -> list:
    """The logits the output party revealed, one entry per following run of the test
    (captured where the launcher puts them together, before its workload scores them)."""
    return capture_logits(monkeypatch)


def capture_logits(monkeypatch: pytest.MonkeyPatch) -> list:
    """A list that gets the logits revealed by every run while ``monkeypatch`` is active."""
    from mpcbench.launch import record

    return _returns(monkeypatch, record, "assemble_logits")


@pytest.fixture
def cli():
    return run_cli
