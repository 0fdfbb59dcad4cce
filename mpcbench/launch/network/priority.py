"""Scheduling priority of the emulated network's own work: the forwarder and the probe.

A network in userspace must not wait for a busy CPU, or a loaded machine stretches
every delay (a forwarder at nice -10 was measured up to 0.3 s late on this shared
machine; at real-time priority, 0.4 ms). Kernel networking runs in softirq, ahead of
processes, so the emulator's work gets real-time round-robin scheduling when allowed
(root), else nice -10, else stays as it is. It sleeps in select() between packets and
the kernel keeps 5 % of each CPU for others, so it cannot lock a machine up.

The probe's bulk receiver is real-time too (a stalled receiver reads a backlog in a
burst and overstates the rate), and so are its pings on long links; on short links they
get nice -10 only (``realtime=False``): a real-time ping took 0.1 ms longer.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

RT_PRIORITY = 10
NICE = -10


def raise_priority(tid: int = 0, realtime: bool = True) -> str:
    """Give thread ``tid`` (0: the calling one) the network's priority; say what it got."""
    if realtime:
        with suppress(PermissionError):
            os.sched_setscheduler(tid, os.SCHED_RR, os.sched_param(RT_PRIORITY))
            return f"SCHED_RR {RT_PRIORITY}"
    with suppress(PermissionError):
        os.setpriority(os.PRIO_PROCESS, tid, NICE)
        return f"nice {NICE}"
    return "default"


@contextmanager
def raised(realtime: bool = True) -> Iterator[str]:
    """The calling thread at the network's priority for the block, as before after it."""
    tid = threading.get_native_id()
    policy, param = os.sched_getscheduler(tid), os.sched_getparam(tid)
    nice = os.getpriority(os.PRIO_PROCESS, tid)
    try:
        yield raise_priority(tid, realtime)
    finally:
        os.sched_setscheduler(tid, policy, param)
        os.setpriority(os.PRIO_PROCESS, tid, nice)
