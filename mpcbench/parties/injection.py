"""Named fault-injection points of the party program, switched on for tests only.

The environment variable :data:`ENV` lists faults as ``POINT:RANK:FAULT`` separated by
commas, e.g. ``MPCBENCH_INJECT=result:1:hang``: party (or dealer) ``RANK`` meets
``FAULT`` when it reaches ``POINT``. Without the variable every point is a no-op. The
launcher passes its environment to the parties it starts on this machine, so a test sets
it on the ``mpcbench`` command.

Points, in the order a party meets them (:data:`POINTS`): ``boot`` (its arguments read,
before its pulse starts: no heartbeat yet), ``start`` (the spec read and the pulse
beating, before the backend is set up), ``setup`` (after setup), ``infer`` (after the first batch's
inference; a dealer has none), ``result`` (its result line written), ``exit`` (its output
closed, as the process ends). Faults (:data:`FAULTS`): ``crash`` (SIGKILL to itself),
``stop`` (SIGSTOP to itself), ``hang`` (sleeps, alive and idle), ``error`` (raises).
With :data:`LOG_ENV` naming a file, each fault appends ``POINT RANK FAULT TIME`` to it
first (``TIME``: Unix seconds), so a test can time what follows from the fault.
"""

from __future__ import annotations

import os
import signal
import time

#: environment variable that switches injection on
ENV = "MPCBENCH_INJECT"
#: environment variable naming the file each fault is logged to before it happens
LOG_ENV = "MPCBENCH_INJECT_LOG"
POINTS = ("boot", "start", "setup", "infer", "result", "exit")
FAULTS = ("crash", "stop", "hang", "error")


class Injected(RuntimeError):
    """The ``error`` fault."""


def spec(point: str, rank: int, fault: str) -> str:
    """One entry of :data:`ENV`."""
    if point not in POINTS or fault not in FAULTS:
        raise ValueError(f"no injection point {point!r} or fault {fault!r}")
    return f"{point}:{rank}:{fault}"


def at(point: str, rank: int) -> None:
    """Meet the fault set for ``rank`` at ``point``, if any."""
    for entry in filter(None, os.environ.get(ENV, "").split(",")):
        where, who, fault = entry.split(":")
        if where != point or int(who) != rank:
            continue
        if log := os.environ.get(LOG_ENV):
            with open(log, "a") as fh:
                fh.write(f"{point} {rank} {fault} {time.time():.3f}\n")
        if fault == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        elif fault == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)
        elif fault == "hang":
            time.sleep(3600)
        elif fault == "error":
            raise Injected(f"fault injected at {point} of rank {rank}")
