"""Per-party resources on this machine: CPU affinity and a memory cap.

Party ``r`` is pinned to core set ``cpus[r % len(cpus)]`` (``taskset``) and runs in its
own memory cgroup (cgroup v1, ``/sys/fs/cgroup/memory/mpcbench-<pid>-r<rank>``, the pid
its launcher's) capped at ``memory_bytes``. A party killed by the kernel for going over
its cap is named with the cap. The cgroups are removed when the run ends, however it
ends; those of a launcher killed outright, by :func:`remove_stale`.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..owner import pid_alive
from .placement import Placement, Placer, Starter

MEMORY_ROOT = Path("/sys/fs/cgroup/memory")
_UNITS = {"": 1, "b": 1, "k": 2**10, "kib": 2**10, "m": 2**20, "mib": 2**20, "g": 2**30,
          "gib": 2**30}


@dataclass(frozen=True)
class Resources:
    """CPU sets (party ``r`` gets ``cpus[r % len(cpus)]``) and a memory cap per party."""

    cpus: tuple[tuple[int, ...], ...] = ()
    memory_bytes: int | None = None

    def __bool__(self) -> bool:
        return bool(self.cpus) or self.memory_bytes is not None

    def of(self, rank: int) -> dict[str, Any]:
        """What party ``rank`` gets, as stored with the run."""
        return {"cpus": list(self.cpus[rank % len(self.cpus)]) if self.cpus else None,
                "memory_cap_bytes": self.memory_bytes}


def parse_cpus(text: str) -> tuple[tuple[int, ...], ...]:
    """``"0;1"`` (party 0 on core 0, party 1 on core 1, ...) or ``"0,1;2-3"``."""
    sets = []
    for part in text.split(";"):
        cores: list[int] = []
        for item in filter(None, part.split(",")):
            lo, _, hi = item.partition("-")
            if not lo.strip().isdigit() or (hi and not hi.strip().isdigit()):
                raise InputError(f"--cpus: {item!r} is not a core or a range like 2-3")
            cores += range(int(lo), int(hi or lo) + 1)
        if not cores:
            raise InputError(f"--cpus: empty core set in {text!r}")
        bad = [c for c in cores if c >= (os.cpu_count() or 1)]
        if bad:
            raise InputError(f"--cpus: core {bad[0]} does not exist here "
                             f"({os.cpu_count()} cores: 0-{(os.cpu_count() or 1) - 1})")
        sets.append(tuple(sorted(set(cores))))
    return tuple(sets)


def parse_size(text: str) -> int:
    """``"512MiB"``, ``"2G"``, ``"300000000"`` -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = m and m.group(2).lower()
    if not m or unit not in _UNITS:
        raise InputError(f"--memory: {text!r} is not a size like 512MiB or 2GiB")
    size = int(float(m.group(1)) * _UNITS[unit])
    if size < 32 * 2**20:
        raise InputError(f"--memory: {text!r} is below 32 MiB, too little for a party")
    return size


def _mib(n: int) -> str:
    return f"{n / 2**20:g} MiB"


def limited(place: Placer, resources: Resources) -> Placer:
    """``place`` with every party pinned and capped as ``resources`` says (the cgroups
    named by this process, their owner)."""
    if not resources:
        return place

    @contextmanager
    def limit(parties: int) -> Iterator[Placement]:
        with place(parties) as placement:
            if placement.kind not in ("local", "emulated"):
                raise InputError("--cpus and --memory apply to parties on this machine, "
                                 f"not to {placement.kind} parties")
            if resources.memory_bytes is not None and not MEMORY_ROOT.is_dir():
                raise InputError(f"--memory needs the cgroup v1 memory controller "
                                 f"({MEMORY_ROOT} is missing)")
            groups = [MEMORY_ROOT / f"mpcbench-{os.getpid()}-r{r}" for r in range(parties)]
            try:
                starters = tuple(_starter(start, resources, r, groups[r])
                                 for r, start in enumerate(placement.starters))
                yield replace(
                    placement, starters=starters,
                    details={**placement.details,
                             "resources": [resources.of(r) for r in range(parties)]},
                    diagnose=lambda: _over_cap(groups, resources.memory_bytes))
            finally:
                for group in groups:
                    _remove(group)

    return limit


def _starter(start: Starter, resources: Resources, rank: int, group: Path) -> Starter:
    prefix: list[str] = []
    if resources.cpus:
        prefix = ["taskset", "-c", ",".join(map(str, resources.cpus[rank % len(resources.cpus)]))]
    if resources.memory_bytes is not None:
        group.mkdir()
        (group / "memory.limit_in_bytes").write_text(str(resources.memory_bytes))
        # join the cgroup, then become the party program (same pid: the launcher's child)
        prefix = ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(group / "cgroup.procs"),
                  *prefix]
    return lambda args: [*prefix, *start(args)]


def _over_cap(groups: list[Path], cap: int | None) -> str | None:
    """Which party the kernel killed for going over its memory cap, if any."""
    for rank, group in enumerate(groups):
        try:
            control = (group / "memory.oom_control").read_text()
        except OSError:
            continue
        if re.search(r"^oom_kill [1-9]", control, re.M):
            return (f"party {rank} of {len(groups)} went over its memory cap of "
                    f"{_mib(cap or 0)} and was killed by the kernel")
    return None


def remove_stale() -> list[Path]:
    """Remove the cgroups of launchers that died without removing theirs; those removed
    (none unless this process is root)."""
    stale = [group for group in sorted(MEMORY_ROOT.glob("mpcbench-*-r*"))
             if (owner := group.name.split("-")[1]).isdigit() and not pid_alive(int(owner))]
    return [group for group in stale if _remove(group)]


def _remove(group: Path) -> bool:
    """Remove a party's cgroup (its processes are gone or going); whether it is gone."""
    deadline = time.monotonic() + 5
    while group.exists():
        try:
            group.rmdir()
        except PermissionError:  # not root: never ours to remove
            return False
        except OSError:
            if time.monotonic() > deadline:
                shutil.rmtree(group, ignore_errors=True)
                break
            time.sleep(0.05)
    return not group.exists()
