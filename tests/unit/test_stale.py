"""What a dead launcher left in a results directory is removed; nothing of a live one is."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from mpcbench.launch import logdirs
from mpcbench.owner import Owner
from mpcbench.results import claims, store

#: a pid above any pid_max is never a live process
DEAD_PID = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
DEAD = Owner(socket.gethostname(), DEAD_PID, 0.0)


def _log_dir(results: Path, run_id: str, owner: Owner | None) -> Path:
    path = results / logdirs.LOGS / run_id
    path.mkdir(parents=True)
    (path / "party0.log").write_text("...")
    if owner is not None:
        (path / logdirs.OWNER).write_text(json.dumps(asdict(owner)))
    return path


def test_log_directories_of_dead_owners_that_stored_nothing_are_removed(tmp_path):
    unstored = _log_dir(tmp_path, "r-unstored", DEAD)
    failed = _log_dir(tmp_path, "r-failed", DEAD)  # its failed row points at its logs
    store.append(pd.DataFrame([{"run_id": "r-failed", "status": "failed", "rank": -1}]),
                 tmp_path)
    live = logdirs.make(tmp_path, "r-live")
    by_hand = _log_dir(tmp_path, "manual", None)
    assert logdirs.remove_stale(tmp_path) == [unstored]
    assert not unstored.exists() and failed.exists() and live.exists() and by_hand.exists()


def test_temporary_files_of_dead_writers_on_this_host_are_removed(tmp_path):
    host = socket.gethostname()
    dead = tmp_path / f".r1.{DEAD_PID}@{host}.x1y2.tmp"
    live = tmp_path / f".r2.{os.getpid()}@{host}.x1y2.tmp"
    away = tmp_path / f".r3.{DEAD_PID}@elsewhere.example.x1y2.tmp"  # cannot be checked
    for path in (dead, live, away):
        path.write_bytes(b"PAR1")
    assert store.remove_stale(tmp_path) == [dead]
    assert live.exists() and away.exists()


def test_claims_of_dead_owners_are_removed(tmp_path):
    directory = tmp_path / claims.CLAIMS_DIR
    directory.mkdir()
    for name, owner in (("dead", DEAD), ("live", Owner.this())):
        (directory / name).write_text(json.dumps(asdict(owner)))
    (directory / "cut").write_text('{"host": ')  # cut short: nobody holds it
    assert claims.remove_stale(tmp_path) == [directory / "cut", directory / "dead"]
    assert [p.name for p in directory.iterdir()] == ["live"]
