"""What ties a party to its launcher: a pulse out, and an end when the launcher goes.

A party reports on standard output (see :mod:`mpcbench.parties.worker`), through its
pulse (:mod:`mpcbench.parties.pulse`): a small process that forwards the party's lines
and, between them, writes ``@mpcbench heartbeat`` twice a second with what the kernel
says of the party (its state — ``T`` when stopped —, CPU time, the host's load). The
beats reach the launcher through ssh as well as from a local process, and they do not
wait for the party's GIL, which framework code holds for seconds at a time.

The party ends by itself when its launcher dies: a local party asks the kernel for
SIGKILL at the death of its parent (``PR_SET_PDEATHSIG``; the kernel means the parent
*thread*, which is the launcher thread that started and waits for the party), and any
party watching its standard input — a pipe only the launcher writes, carried by ssh for
a remote party — exits at end of file, which also comes when an ssh connection drops.
Its pulse ends when the party's output closes.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..owner import LAUNCHER_PID
from . import pulse

#: exit status of a party whose launcher went away
ORPHANED = 3

_PR_SET_PDEATHSIG = 1


def die_with_launcher() -> None:
    """SIGKILL this process when its parent, the launcher, dies (Linux; else nothing).

    Only a party started directly by the launcher (its parent pid is the one in
    :data:`LAUNCHER_PID`) asks: the parent of a party started through ``bash -c`` or ssh
    is a shell, whose end says nothing about the launcher's. A party whose launcher died
    before it got here (it has been given to init) exits at once.
    """
    launcher = os.environ.get(LAUNCHER_PID)
    if launcher is not None and os.getppid() == 1:  # the launcher died before it got here
        os._exit(ORPHANED)
    if launcher != str(os.getppid()) or not sys.platform.startswith("linux"):
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
def pulsed_output(timeout_s: float = 60.0) -> Iterator[None]:
    """Route this process's standard output and error, each through its own pipe, to a
    pulse process while inside: the pulse is then the one writer of the party's output,
    so no line of one stream can land inside a line of the other.

    On exit the pulse is told the output ends (:data:`.pulse.END`), standard output is
    closed (``/dev/null`` takes its place), standard error is the party's own again, and
    the pulse, which forwards what is left and ends, is waited for up to ``timeout_s``:
    the last line written is out before the party exits (or says why it ends).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    proc = subprocess.Popen([sys.executable, "-I", pulse.__file__, str(os.getpid()),
                             str(err_read)], stdin=out_read, pass_fds=(err_read,))
    own_stderr = os.dup(2)
    for read, write, fd in ((out_read, out_write, 1), (err_read, err_write, 2)):
        os.close(read)
        os.dup2(write, fd)
        os.close(write)
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
            print(pulse.END, flush=True)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
        os.dup2(own_stderr, 2)
        os.close(own_stderr)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout_s)
