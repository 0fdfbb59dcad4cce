"""Named fault-injection points of the party program and the launcher, for tests only.

The environment variable :data:`ENV` lists faults as ``POINT:WHO:FAULT`` separated by
commas, e.g. ``MPCBENCH_INJECT=result:1:hang``: party (or dealer) of rank ``WHO``, or
``launcher``, meets ``FAULT`` the first time it reaches ``POINT``. Without the variable
every point is a no-op. The launcher passes its environment to the parties it starts on
this machine, so a test sets it on the ``mpcbench`` command.

A party's points, in the order it meets them (:data:`PARTY_POINTS`): ``boot`` (its
arguments read, before its pulse starts: no heartbeat yet), ``start`` (its pulse beating,
before it reads the spec and imports torch and its framework), ``setup`` (after setup),
``infer`` (after the first batch's inference; a dealer has none), ``result`` (its result
line written), ``exit`` (its output closed, as the process ends). The launcher's
(:data:`LAUNCHER_POINTS`): ``launch`` (every party started), ``store`` (a run's file
written and synced, not yet linked into the results directory), ``index`` (the file
linked, the runs table not yet updated).

Faults (:data:`FAULTS`): ``crash`` (SIGKILL to itself), ``stop`` (SIGSTOP to itself),
``hang`` (sleeps, alive and idle), ``error`` (raises :class:`Injected`), ``full`` (raises
the ``OSError`` of a full disk). With :data:`LOG_ENV` naming a file, each fault appends
``POINT WHO FAULT TIME`` to it first (``TIME``: Unix seconds), so a test can time what
follows from the fault.
"""

from __future__ import annotations

import errno
import os
import signal
import time

#: environment variable that switches injection on
ENV = "MPCBENCH_INJECT"
#: environment variable naming the file each fault is logged to before it happens
LOG_ENV = "MPCBENCH_INJECT_LOG"
#: who a launcher's fault is for (a party's is its rank)
LAUNCHER = "launcher"
PARTY_POINTS = ("boot", "start", "setup", "infer", "result", "exit")
LAUNCHER_POINTS = ("launch", "store", "index")
FAULTS = ("crash", "stop", "hang", "error", "full")

_met: set[str] = set()


class Injected(RuntimeError):
    """The ``error`` fault."""


def spec(point: str, who: int | str, fault: str) -> str:
    """One entry of :data:`ENV`."""
    points = LAUNCHER_POINTS if who == LAUNCHER else PARTY_POINTS
    if point not in points or fault not in FAULTS:
        raise ValueError(f"no injection point {point!r} for {who!r} or fault {fault!r}")
    return f"{point}:{who}:{fault}"


def at(point: str, who: int | str) -> None:
    """Meet the fault set for ``who`` (a rank, or :data:`LAUNCHER`) at ``point``, if any
    and not met before."""
    for entry in filter(None, os.environ.get(ENV, "").split(",")):
        where, whom, fault = entry.split(":")
        if where != point or whom != str(who) or entry in _met:
            continue
        _met.add(entry)
        if log := os.environ.get(LOG_ENV):
            with open(log, "a") as fh:
                fh.write(f"{point} {who} {fault} {time.time():.3f}\n")
        if fault == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        elif fault == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)
        elif fault == "hang":
            time.sleep(3600)
        elif fault == "error":
            raise Injected(f"fault injected at {point} of {who}")
        elif fault == "full":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"(injected at {point})")
