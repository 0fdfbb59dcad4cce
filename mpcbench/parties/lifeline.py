"""What ties a party to its launcher: a heartbeat out, and an end when the launcher goes.

A party reports on standard output (see :mod:`mpcbench.parties.worker`), so its heartbeat
is a report line too — ``@mpcbench heartbeat STEP`` every :data:`BEAT_S` from a side
thread, ``STEP`` being the main thread's progress counter — and reaches the launcher
through ssh as well as from a local process. A stopped process (SIGSTOP) beats no more;
a Python side thread still runs while the main thread waits in a long C call (torch,
gmpy2) that releases the GIL, so busy parties keep beating.

The party ends by itself when its launcher dies: a local party asks the kernel for
SIGKILL at the death of its parent (``PR_SET_PDEATHSIG``; the kernel means the parent
*thread*, which is the launcher thread that started and waits for the party), and any
party watching its standard input — a pipe only the launcher writes, carried by ssh for
a remote party — exits at end of file, which also comes when an ssh connection drops.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: seconds between heartbeats
BEAT_S = 0.5
#: environment variable in which a local launcher passes its pid to its parties
LAUNCHER_PID = "MPCBENCH_LAUNCHER_PID"
#: exit status of a party whose launcher went away
ORPHANED = 3

_PR_SET_PDEATHSIG = 1


def die_with_launcher() -> None:
    """SIGKILL this process when its parent, the launcher, dies (Linux; else nothing).

    Only a party started directly by the launcher (its parent pid is the one in
    :data:`LAUNCHER_PID`) asks: the parent of a party started through ``bash -c`` or ssh
    is a shell, whose end says nothing about the launcher's.
    """
    if os.environ.get(LAUNCHER_PID) != str(os.getppid()) or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    zero = ctypes.c_ulong(0)  # prctl takes unsigned longs after the option
    if libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), zero, zero, zero) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if str(os.getppid()) != os.environ[LAUNCHER_PID]:  # the launcher died before prctl
        os._exit(ORPHANED)


def read_line(fd: int = 0) -> str:
    """One line from ``fd``, read without Python's buffered stdin.

    The rest of that stream is left to :func:`exit_at_eof`; an unbuffered read keeps a
    blocked side thread from holding the lock of ``sys.stdin`` at interpreter exit.
    """
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 1)
        if not chunk:
            break
        data += chunk
    return data.decode()


def exit_at_eof(fd: int = 0) -> None:
    """Start a side thread that ends the process when ``fd`` reaches end of file."""

    def watch() -> None:
        while os.read(fd, 4096):
            pass
        with contextlib.suppress(OSError):  # stderr may have gone with the launcher
            os.write(2, b"mpcbench party: launcher gone (standard input closed), exiting\n")
        os._exit(ORPHANED)

    threading.Thread(target=watch, name="mpcbench-eof", daemon=True).start()


@contextmanager
def heartbeat(emit: Callable[[str], None], step: Callable[[], int]) -> Iterator[None]:
    """Call ``emit(str(step()))`` every :data:`BEAT_S` from a side thread, while inside.

    The thread beats only while the main thread is alive and stops (joined) on exit, so
    a finished party never beats and no beating thread outlives the party's own work.
    """
    done = threading.Event()
    main = threading.main_thread()

    def beat() -> None:
        while main.is_alive():
            emit(str(step()))
            if done.wait(BEAT_S):
                return

    thread = threading.Thread(target=beat, name="mpcbench-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
