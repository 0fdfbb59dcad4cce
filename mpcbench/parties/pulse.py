"""A party's pulse: a small process beside the party that writes its standard output and beats.

A heartbeat thread inside the party needs the party's GIL, and framework code holds it
for seconds in single C calls: the ``ml_dtypes`` extension CrypTen's import of ``onnx``
loads (0.9 s of CPU), MPyC's Shamir split (``V @ C`` on object arrays). With 16 parties
on 2 cores such a call takes 5-10 s of wall time, and the thread fell silent although
the party was working. This process needs nothing of the party's: the party's standard
output and error are two pipes into it (it is their one writer), and it

* forwards the party's output unchanged, whole lines at a time;
* between lines, every :data:`BEAT_S`, writes ``@mpcbench heartbeat`` with what the
  kernel of the party's host says of the party (:class:`Beat`);
* ends after forwarding everything, at the line :data:`END` (the party's last), at end of
  file on its input, or when the party is gone.

It uses the standard library only and runs as a script (``python -I pulse.py PID
[FD]``: the party's output on standard input, its error on ``FD``), so
it starts in milliseconds and imports nothing of the party's. :func:`kernel_state` is
also how the launcher reads a party on its own machine.
"""

from __future__ import annotations

import os
import select
import sys
import time
from dataclasses import dataclass

#: seconds between heartbeats
BEAT_S = 0.5
#: prefix of a report line (see :mod:`mpcbench.parties.worker`)
MARKER = "@mpcbench"
#: kernel process states of a stopped process (``T`` by a signal, ``t`` by a tracer)
STOPPED = frozenset("Tt")
_PROGRESS = f"{MARKER} progress ".encode()
_END = f"{MARKER} end".encode()
#: the line a party writes last: what follows it (from a child left behind) is not waited for
END = f"{MARKER} end"
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Beat:
    """One heartbeat: the party's progress and what its host's kernel says of it."""

    #: batches (or steps) the party has done
    step: int
    #: kernel state of the party process (``R``, ``S``, ``D``, ``T``, ...; ``?`` unknown)
    state: str = "?"
    #: CPU seconds the party process has used
    cpu_s: float = float("nan")
    #: the host's 1-minute load average and its core count
    load: float = float("nan")
    cores: int = 0

    def format(self) -> str:
        """The payload of a ``heartbeat`` line: ``STEP STATE CPU_S LOAD CORES``."""
        return f"{self.step} {self.state} {self.cpu_s:.2f} {self.load:.2f} {self.cores}"

    @classmethod
    def parse(cls, text: str) -> Beat:
        """A beat from :meth:`format`'s text (a bare ``STEP`` gives the step alone)."""
        step, *rest = text.split()
        if len(rest) != 4:
            return cls(int(step))
        state, cpu_s, load, cores = rest
        return cls(int(step), state, float(cpu_s), float(load), int(cores))


def kernel_state(pid: int) -> tuple[str, float] | None:
    """State letter and CPU seconds of process ``pid`` from ``/proc``; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            text = fh.read().decode(errors="replace")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name in parentheses may hold spaces
    return fields[0], (int(fields[11]) + int(fields[12])) / _TICKS


def observe(pid: int, step: int) -> Beat:
    """A beat for party ``pid`` at ``step``, read from this host's kernel now."""
    state, cpu_s = kernel_state(pid) or ("?", float("nan"))
    return Beat(step, state, cpu_s, os.getloadavg()[0], os.cpu_count() or 1)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process of that pid
        return True
    return True


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _drain(fd: int) -> bytes:
    """What ``fd`` holds now, read without waiting for more."""
    data = b""
    while select.select([fd], [], [], 0)[0] and (chunk := os.read(fd, 1 << 16)):
        data += chunk
    return data


def forward(party: int, sources: tuple[int, ...] = (0,), sink: int = 1,
            beat_s: float = BEAT_S) -> None:
    """Copy each of ``sources`` (the party's standard output, then its error) to ``sink``
    whole lines at a time, beating for process ``party`` between them, until every source
    ends, a source says :data:`END`, or ``party`` is gone (a child it left may still hold
    a source open: what is there then is forwarded, and no more is waited for).

    Each stream has its own pipe: two threads of the party writing at once (a long result
    line on one, a warning on the other) cannot mix their bytes, as they do in one pipe
    once a write passes the pipe's buffer.
    """
    pending = dict.fromkeys(sources, b"")
    step = 0
    due = time.monotonic()

    def put(fd: int, chunk: bytes) -> bool:
        """Forward the whole lines of ``fd``'s output so far; True at :data:`END`."""
        nonlocal step
        data = pending[fd] + chunk
        cut = data.rfind(b"\n") + 1
        lines, pending[fd] = data[:cut], data[cut:]
        for line in lines.splitlines(keepends=True):
            if line.startswith(_PROGRESS):
                step = int(line[len(_PROGRESS):].split()[0])
            elif line.rstrip(b"\n") == _END:
                return True
            _write(sink, line)
        return False

    def finish(ended: int | None = None) -> None:
        """Forward what the streams (but ``ended``) hold now, and the rest of every line."""
        if ended is not None:
            del pending[ended]  # what follows END is not the party's
        for fd in pending:
            put(fd, _drain(fd))
        _write(sink, b"".join(pending.values()))

    open_fds = list(sources)
    while open_fds:
        party_gone = False
        if time.monotonic() >= due:
            beat = observe(party, step)
            party_gone = beat.state == "Z" or not _exists(party)
            if not party_gone:
                _write(sink, f"{MARKER} heartbeat {beat.format()}\n".encode())
            due = time.monotonic() + beat_s
        wait = 0.0 if party_gone else max(0.0, due - time.monotonic())
        ready, _, _ = select.select(open_fds, [], [], wait)
        if not ready and party_gone:
            break
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                open_fds.remove(fd)
            elif put(fd, chunk):
                finish(ended=fd)
                return
    finish()


if __name__ == "__main__":
    try:
        forward(int(sys.argv[1]), (0, *map(int, sys.argv[2:])))
    except (BrokenPipeError, KeyboardInterrupt):  # the reader, or the launcher, is gone
        pass
