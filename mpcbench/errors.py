"""Error hierarchy: every error the user can cause or meet is one of these.

The CLI prints such an error as one line and exits with its ``exit_code`` (2 for bad
input, 1 for a failed run or a machine that refused); an ``OSError`` that reaches it
becomes a :class:`SystemRefused`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class MpcbenchError(Exception):
    """A failure with a clear one-line message."""

    exit_code = 1


class RunFailed(MpcbenchError):
    """A run that was started and failed (a party died or hung, a host was unreachable):
    it is stored as a row with this ``status`` and the message."""

    status = "failed"


class InputError(MpcbenchError, ValueError):
    """Bad input: unknown model or dataset, bad party count, missing file, busy port, ..."""

    exit_code = 2


class SystemRefused(MpcbenchError):
    """The operating system refused: a full disk, a directory that cannot be created or
    written, a port that cannot be bound, a file that went away."""

    @classmethod
    def wrap(cls, exc: OSError) -> SystemRefused:
        """``exc`` as one line: the file it names (both, for a rename) and the reason."""
        names = " -> ".join(str(n) for n in (exc.filename, exc.filename2) if n is not None)
        reason = exc.strerror or str(exc)
        return cls(f"{names}: {reason}" if names else reason)
