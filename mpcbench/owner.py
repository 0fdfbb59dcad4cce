"""Who owns what a run leaves outside its own memory, and whether that owner still runs.

Every such thing names its owner, the launcher process, so that once the owner is gone
anyone may remove it (:mod:`mpcbench.launch.leftovers`):

* a file or directory holds an :class:`Owner` (host, pid and start time, which name one
  process for good: a pid the system has given to a new process owns nothing);
* a kernel object's name (network namespace, cgroup) or a temporary file's name holds
  the owner's pid (:func:`pid_alive`: a reused pid keeps it, which errs on the safe side);
* a process started for a run holds the launcher's pid in its environment
  (:data:`LAUNCHER_PID`; a launcher that started after the process is another process).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import psutil

#: environment variable in which a launcher passes its pid to what it starts
LAUNCHER_PID = "MPCBENCH_LAUNCHER_PID"
#: seconds two readings of one process's start time may differ by
_START_SLACK = 1.0


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine runs (a zombie has ended)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # there, but not ours to read
        return True


@dataclass(frozen=True)
class Owner:
    """A process, named for good."""

    host: str
    pid: int
    #: start time of the process (seconds since the epoch): with the pid, names it uniquely
    started: float

    @classmethod
    def this(cls) -> Owner:
        """This process."""
        return cls(socket.gethostname(), os.getpid(), psutil.Process().create_time())

    def same(self, other: Owner) -> bool:
        """Whether ``other`` names the same process."""
        return ((self.host, self.pid) == (other.host, other.pid)
                and abs(self.started - other.started) < _START_SLACK)

    def alive(self) -> bool:
        """Whether the process still runs (always true for one on another host)."""
        if self.host != socket.gethostname():
            return True
        try:
            proc = psutil.Process(self.pid)
            return (abs(proc.create_time() - self.started) < _START_SLACK
                    and proc.status() != psutil.STATUS_ZOMBIE)
        except psutil.Error:
            return False
