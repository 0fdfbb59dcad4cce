"""Where a run was made: machine, package versions and git commit (never fails a run)."""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

import psutil

import mpcbench

_REPO = Path(__file__).resolve().parents[2]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@cache
def machine_info() -> dict[str, object]:
    """Host name, OS, CPU model, cores and RAM of this machine."""
    return {
        "hostname": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu_model": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "ram_bytes": psutil.virtual_memory().total,
    }


@cache
def versions() -> dict[str, str | None]:
    """Versions of Python, mpcbench, torch and numpy (read from metadata, not imported); a
    backend declares those of its framework (:meth:`Backend.versions`)."""
    return {
        "mpcbench_version": mpcbench.__version__,
        "python_version": platform.python_version(),
        "torch_version": _version("torch"),
        "numpy_version": _version("numpy"),
    }


def commit_info(repo: Path = _REPO) -> dict[str, object]:
    """``git_commit`` and ``git_dirty`` of the source tree (``None`` when unknown)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        return {"git_commit": git("rev-parse", "HEAD"),
                "git_dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}


def code_changes(repo: Path = _REPO) -> str | None:
    """Hash (12 hex digits) of the uncommitted changes to tracked files (``git diff HEAD``),
    ``None`` for a clean tree or outside git: with the commit, what code ran."""
    try:
        diff = subprocess.run(["git", "diff", "HEAD", "--binary"], cwd=repo,
                              capture_output=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return hashlib.sha256(diff).hexdigest()[:12] if diff else None


def provenance() -> dict[str, object]:
    """Machine, versions and commit as flat result columns."""
    return {**machine_info(), **versions(), **commit_info()}
