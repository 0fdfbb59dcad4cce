"""What a sweep does with an error of one cell: the cell's failed row, or a stop.

:func:`.runner.run_case` stores the failure of a run it launched (a :class:`RunFailed`);
any other error of a cell (bad input, a damaged weights manifest, an unreadable file, a
bug) is stored here as the cell's failed row with a one-line reason. An error of the file
system that every next cell would meet too (full disk, quota, read-only) is
:class:`Fatal` instead.
"""

from __future__ import annotations

import errno
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..case import Case
from ..errors import MpcbenchError, RunFailed
from ..results import identity as ident
from ..results import store
from ..results.provenance import provenance
from .record import case_columns, failure_row, new_run_id

#: file system errors that fail every write, hence every next cell
FATAL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


class Fatal(MpcbenchError):
    """An error every next cell of the sweep would meet too."""


def reason(exc: BaseException) -> str:
    """``exc`` on one line: a project error's message, else its type and message."""
    text = str(exc) if isinstance(exc, MpcbenchError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def fatal(exc: BaseException) -> bool:
    """Whether ``exc``, or an error it was raised from or while handling, is one of
    :data:`FATAL_ERRNOS` (also as a message: a party's own error, in a launch error)."""
    messages = [os.strerror(code) for code in FATAL_ERRNOS]
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in FATAL_ERRNOS:
            return True
        if any(message in str(seen) for message in messages):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _row(case: Case, error: str, identity: dict[str, Any] | None) -> pd.DataFrame:
    """The one row of a failed run of ``case`` (with what its identity says, if known)."""
    known = {} if identity is None else {
        "case_fingerprint": ident.fingerprint(identity), "identity": ident.dumps(identity),
        "config": ident.config_text(identity["config"]),
        "framework_versions": json.dumps(identity["frameworks"], sort_keys=True),
        "weights_sha256": identity["weights"].get(f"{case.model}-{case.dataset}"),
    }
    return failure_row({"run_id": new_run_id(), "timestamp": datetime.now(UTC),
                        **case_columns(case), **provenance(), **known}, "failed", error)


def failed(case: Case, exc: Exception, results_dir: Path,
           identity: dict[str, Any] | None = None) -> str:
    """Store the failed row of ``case`` for ``exc`` unless its run did (a
    :class:`RunFailed`); the one-line reason, saying so if the row could not be stored.
    :class:`Fatal` if ``exc``, or the error storing its row, is fatal (:func:`fatal`)."""
    why = reason(exc)
    if fatal(exc):
        raise Fatal(f"{case.case_id}: {why}; sweep stopped, as every next case would fail "
                    "the same way") from None
    if isinstance(exc, RunFailed):
        return why
    try:
        store.append(_row(case, why, identity), results_dir)
    except Exception as lost:
        if fatal(lost):
            raise Fatal(f"{case.case_id}: {why}; its row not stored: {reason(lost)}; sweep "
                        "stopped, as every next case would fail the same way") from None
        return f"{why} (row not stored: {reason(lost)})"
    return why
