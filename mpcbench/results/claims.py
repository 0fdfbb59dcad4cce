"""Claims on the cells of a results directory, so that concurrent sweeps run each cell once.

Before it runs a cell, a sweep claims the cell's fingerprint: under the store's lock
(:func:`.store.locked`) it reads the fingerprints of the runs table and, unless the
fingerprint is stored with status ok or a live process holds its claim, writes
``.claims/<fingerprint>`` naming itself (JSON: ``host``, ``pid``, ``started``). The process
start time makes the name unique, so a pid the system has given to a new process holds
nothing: the claim of a dead owner (a sweep killed by SIGKILL, a machine that rebooted) is
taken over. The owner removes its claim when the cell ends; :func:`remove_stale` removes
those of dead owners. An owner on another host (a results directory on a shared file
system) cannot be checked and counts as alive.
"""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from ..owner import Owner
from . import catalog, store
from .store import ResultsError

#: directory of the claim files, inside the results directory
CLAIMS_DIR = ".claims"
#: columns of :meth:`Claims.stored`
STORED_COLUMNS = ["run_id", "case_fingerprint", "identity"]


def _holder(path: Path) -> Owner | None:
    """The owner named by claim file ``path``; ``None`` if there is none, or if it cannot
    be read (a claim cut short: nobody holds it)."""
    try:
        return Owner(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


class Claims:
    """What one process sees of a results directory's cells: runs stored ok, and claims."""

    def __init__(self, results_dir: Path | str) -> None:
        self.results_dir = Path(results_dir)
        self.owner = Owner.this()
        self._held: set[str] = set()
        self._reported: set[str] = set()

    def stored(self, errors: list[ResultsError] | None = None) -> pd.DataFrame:
        """One row per run stored with status ok (:data:`STORED_COLUMNS`), from the runs
        table (:mod:`.catalog`); an unreadable file is skipped, and its error appended to
        ``errors`` the first time."""
        found: list[ResultsError] = []
        table = catalog.records(self.results_dir, found, [*STORED_COLUMNS, "status"])
        for exc in found:
            if errors is not None and str(exc) not in self._reported:
                errors.append(exc)
            self._reported.add(str(exc))
        ok = table.loc[table["status"].eq("ok").fillna(False).astype(bool), STORED_COLUMNS]
        return ok.reset_index(drop=True)

    def claim(self, fingerprint: str, rerun: bool = False) -> str | None:
        """Hold the cell ``fingerprint`` for this process: ``None`` once held, else why
        not: ``stored (run R)`` (unless ``rerun``) or ``running in sweep pid N``.
        :class:`ResultsError` if the results directory cannot take the claim."""
        path = self.results_dir / CLAIMS_DIR / fingerprint
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with store.locked(self.results_dir):
                if not rerun:
                    ok = self.stored()
                    runs = ok.loc[ok["case_fingerprint"].eq(fingerprint).fillna(False), "run_id"]
                    if len(runs):
                        return f"stored (run {runs.iloc[-1]})"
                other = _holder(path)
                if other is not None and not other.same(self.owner) and other.alive():
                    where = "" if other.host == self.owner.host else f" on {other.host}"
                    return f"running in sweep pid {other.pid}{where}"
                self._held.add(fingerprint)
                path.write_text(json.dumps(asdict(self.owner)))
        except OSError as exc:
            raise ResultsError(f"results directory {self.results_dir} cannot take the claim "
                               f"of a cell: {exc}") from None
        return None

    def release(self, fingerprint: str) -> None:
        """Remove this process's claim on ``fingerprint``, if it holds one. A claim that
        cannot be removed is taken over once this process has ended."""
        if fingerprint not in self._held:
            return
        self._held.discard(fingerprint)
        path = self.results_dir / CLAIMS_DIR / fingerprint
        with suppress(OSError), store.locked(self.results_dir):
            other = _holder(path)
            if other is None or other.same(self.owner):
                path.unlink(missing_ok=True)


def remove_stale(results_dir: Path | str) -> list[Path]:
    """Remove the claims of ``results_dir`` that no live process holds (their owner died,
    or the claim was cut short); the files removed."""
    directory = Path(results_dir) / CLAIMS_DIR
    if not directory.is_dir():
        return []
    removed = []
    with store.locked(Path(results_dir)):  # no claim is being written meanwhile
        for path in sorted(directory.iterdir()):
            holder = _holder(path)
            if holder is None or not holder.alive():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed
