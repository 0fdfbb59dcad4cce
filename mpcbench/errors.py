"""Error hierarchy: every error the user can cause or meet is one of these.

The CLI prints such an error as one line and exits with its ``exit_code``
(2 for bad input, 1 for a failed run); anything else is a bug and keeps its traceback.
"""


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
