"""Claims on cells: one holder at a time, taken over from a dead owner, none on a stored cell."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import psutil

from mpcbench.owner import Owner
from mpcbench.results import store
from mpcbench.results.claims import CLAIMS_DIR, Claims


def _write_claim(results: Path, fingerprint: str, owner: Owner) -> Path:
    path = results / CLAIMS_DIR / fingerprint
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(owner)))
    return path


def _parent() -> Owner:
    """A live process that is not this one (pytest's parent)."""
    parent = psutil.Process().parent()
    return Owner(Owner.this().host, parent.pid, parent.create_time())


def _stored(results: Path, run_id: str, fingerprint: str, status: str) -> None:
    store.append(pd.DataFrame([{"run_id": run_id, "case_fingerprint": fingerprint,
                                "identity": "{}", "status": status, "rank": -1}]), results)


def test_a_claim_is_held_by_one_live_process_and_released(tmp_path):
    claims = Claims(tmp_path / "r")
    assert claims.claim("c1") is None
    path = tmp_path / "r" / CLAIMS_DIR / "c1"
    assert Owner(**json.loads(path.read_text())).same(Owner.this())
    assert claims.claim("c1") is None  # this process holds it already
    claims.release("c1")
    assert not path.exists()

    other = _parent()
    _write_claim(tmp_path / "r", "c2", other)
    assert claims.claim("c2") == f"running in sweep pid {other.pid}"
    claims.release("c2")  # not ours: left alone
    assert (tmp_path / "r" / CLAIMS_DIR / "c2").exists()
    away = Owner("elsewhere.example", 1, 0.0)  # cannot be checked: counts as alive
    _write_claim(tmp_path / "r", "c3", away)
    assert claims.claim("c3") == "running in sweep pid 1 on elsewhere.example"


def test_the_claim_of_a_dead_owner_is_taken_over(tmp_path):
    results, claims = tmp_path / "r", Claims(tmp_path / "r")
    other = _parent()
    reused = Owner(other.host, other.pid, other.started - 3600)  # its pid, now another's
    gone = Owner(other.host, int(Path("/proc/sys/kernel/pid_max").read_text()) + 1, 0.0)
    for fingerprint, owner in (("reused", reused), ("gone", gone)):
        path = _write_claim(results, fingerprint, owner)
        assert claims.claim(fingerprint) is None
        assert Owner(**json.loads(path.read_text())).pid == os.getpid()
    cut_short = results / CLAIMS_DIR / "cut"
    cut_short.write_text('{"host": ')
    assert claims.claim("cut") is None
    for fingerprint in ("reused", "gone", "cut"):
        claims.release(fingerprint)
    assert list((results / CLAIMS_DIR).iterdir()) == []


def test_a_cell_stored_ok_is_not_claimed_unless_rerun(tmp_path):
    results = tmp_path / "r"
    _stored(results, "run-a", "c1", "ok")
    _stored(results, "run-b", "c2", "failed")
    claims = Claims(results)
    assert list(claims.stored()["run_id"]) == ["run-a"]
    _stored(results, "run-c", "c3", "ok")  # appended after the sweep looked: still seen
    assert claims.claim("c1") == "stored (run run-a)"
    assert claims.claim("c3") == "stored (run run-c)"
    assert claims.claim("c2") is None  # only a failed run: runs again
    assert claims.claim("c1", rerun=True) is None
    assert list(claims.stored()["run_id"]) == ["run-a", "run-c"]


def test_a_damaged_file_is_reported_once_and_skipped(tmp_path):
    results = tmp_path / "r"
    _stored(results, "run-a", "c1", "ok")
    (results / "0002-broken.parquet").write_bytes(b"not parquet")
    claims, errors = Claims(results), []
    assert list(claims.stored(errors)["run_id"]) == ["run-a"]
    assert len(errors) == 1 and "0002-broken.parquet" in str(errors[0])
    claims.stored(errors)
    assert len(errors) == 1
