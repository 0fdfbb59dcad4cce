"""What runs whose launcher died (SIGKILL, a crash, a reboot) left behind, and its removal.

A launcher removes what its run made however the run ends, unless it is killed outright.
Everything a run makes names its owner (:mod:`mpcbench.owner`), so that what a dead
owner left is told from a live run's and removed, by the next run and by ``mpcbench
clean``:

* processes a run started that outlived their launcher (parties, their pulses, an
  emulated network's forwarder: their environment names the launcher), killed first, so
  that nothing holds what follows;
* network namespaces (:mod:`.network.namespaces`; their TUN devices went with the
  processes that held them) and memory cgroups (:mod:`.resources`) of this machine;
* in the results directory: log directories of runs that stored nothing
  (:mod:`.logdirs`), temporary files of result files never written
  (:mod:`mpcbench.results.store`) and claims on cells (:mod:`mpcbench.results.claims`).
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil

from ..owner import LAUNCHER_PID
from ..results import claims, store
from . import logdirs, resources
from .network import namespaces

#: seconds the killed processes get to be gone
KILL_WAIT_S = 5.0


def _orphaned(proc: psutil.Process) -> bool:
    """Whether ``proc`` was started for a run whose launcher has ended (a process of that
    pid which started after ``proc`` is another one)."""
    try:
        launcher = proc.environ().get(LAUNCHER_PID, "")
        started = proc.create_time()
    except psutil.Error:  # gone, a kernel thread, or not ours to read
        return False
    if not launcher.isdigit():
        return False
    try:
        owner = psutil.Process(int(launcher))
        return owner.status() == psutil.STATUS_ZOMBIE or owner.create_time() > started
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def _kill_orphans() -> list[str]:
    """Kill the processes of dead launchers; what they were."""
    orphans = [p for p in psutil.process_iter() if p.pid != os.getpid() and _orphaned(p)]
    killed = []
    for proc in orphans:
        try:
            what = " ".join(proc.cmdline())
            proc.kill()
        except psutil.Error:  # ended meanwhile
            continue
        killed.append(f"process {proc.pid} ({what})")
    psutil.wait_procs(orphans, timeout=KILL_WAIT_S)
    return killed


def sweep(results_dir: Path | str) -> list[str]:
    """Remove what dead launchers left on this machine and in ``results_dir``; one line
    per thing removed. Nothing of a live run is touched."""
    results_dir = Path(results_dir)
    removed = _kill_orphans()
    removed += [f"network namespace {name}" for name in namespaces.cleanup_stale()]
    removed += [f"cgroup {path}" for path in resources.remove_stale()]
    removed += [f"log directory {path}" for path in logdirs.remove_stale(results_dir)]
    removed += [f"temporary file {path}" for path in store.remove_stale(results_dir)]
    removed += [f"claim {path}" for path in claims.remove_stale(results_dir)]
    return removed
