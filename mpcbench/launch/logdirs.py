"""A run's log directory, ``RESULTS/logs/<run_id>``: the run spec and each party's log.

The launcher makes it (:func:`make`) naming itself its owner (``owner.json``, an
:class:`~mpcbench.owner.Owner`), removes it once the run's rows are stored, and keeps it
after a failure: the failed row's error points at a party's log in it. The directory of
a run whose owner died without storing anything (a launcher killed by SIGKILL) is a
leftover, which :func:`remove_stale` removes. A directory without a readable owner (one
made by hand, or by an older mpcbench) is never removed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from ..owner import Owner
from ..results import store

#: directory of the log directories, inside the results directory
LOGS = "logs"
#: the file of a log directory that names its owner
OWNER = "owner.json"


def make(results_dir: Path, run_id: str) -> Path:
    """Make the log directory of run ``run_id``, owned by this process; its path."""
    path = Path(results_dir) / LOGS / run_id
    path.mkdir(parents=True)
    (path / OWNER).write_text(json.dumps(asdict(Owner.this())))
    return path


def _owner(path: Path) -> Owner | None:
    try:
        return Owner(**json.loads((path / OWNER).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def remove_stale(results_dir: Path) -> list[Path]:
    """Remove the log directories of ``results_dir`` whose owner is dead and whose run
    stored no row; those removed."""
    logs = Path(results_dir) / LOGS
    if not logs.is_dir():
        return []
    orphaned = [path for path in sorted(logs.iterdir())
                if (owner := _owner(path)) is not None and not owner.alive()]
    stored = store.stored_run_ids(Path(results_dir))  # after: a dead owner stores no more
    stale = [path for path in orphaned if path.name not in stored]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale
