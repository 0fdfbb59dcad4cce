"""Named network namespaces: create, enter (per thread or per process), remove, clean up.

Names are ``mpcb-<runid>-r<rank>`` where ``runid`` starts with the owner's process id,
so :func:`cleanup_stale` can tell a crashed run's namespaces from a live one's.
"""

from __future__ import annotations

import ctypes
import os
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyroute2 import netns

from ...owner import pid_alive

PREFIX = "mpcb-"
NETNS_DIR = Path(netns.NETNS_RUN_DIR)
CLONE_NEWNET = 0x40000000
CLONE_NEWUTS = 0x04000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 0x100000

_libc = ctypes.CDLL(None, use_errno=True)
_OWNER = re.compile(r"(\d+)x[0-9a-f]+-")


def new_run_id() -> str:
    """A run id unique on this machine: the owner's pid and a random suffix."""
    return f"{os.getpid()}x{secrets.token_hex(2)}"


def path(name: str) -> Path:
    return NETNS_DIR / name


def _share_run_dir() -> None:
    """Make the namespace directory a shared mount point, as ``ip netns add`` does."""
    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    run_dir = bytes(NETNS_DIR)
    if _libc.mount(b"", run_dir, b"none", MS_SHARED | MS_REC, None) == 0:
        return
    _check(_libc.mount(run_dir, run_dir, b"none", MS_BIND | MS_REC, None), "mount --bind")
    _check(_libc.mount(b"", run_dir, b"none", MS_SHARED | MS_REC, None), "mount --make-shared")


def create(name: str) -> None:
    """Create the named network namespace ``name`` (like ``ip netns add``), without forking.

    A helper thread unshares its network namespace and bind-mounts it on the name; the
    mount keeps the namespace alive after the thread ends.
    """
    _share_run_dir()
    target = path(name)
    os.close(os.open(target, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    failure: list[OSError] = []

    def bind() -> None:
        try:
            _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            _check(_libc.mount(b"/proc/thread-self/ns/net", bytes(target), b"none", MS_BIND,
                               None), "mount --bind")
        except OSError as err:
            failure.append(err)

    helper = threading.Thread(target=bind, name=f"netns-{name}")
    helper.start()
    helper.join()
    if failure:
        target.unlink()
        raise failure[0]


def remove(name: str) -> None:
    """Remove the namespace ``name`` if it exists (processes still inside keep it alive)."""
    if path(name).exists():
        netns.remove(name)


def listed(prefix: str = PREFIX) -> list[str]:
    return sorted(n for n in netns.listnetns() if n.startswith(prefix))


def _owner_alive(name: str, prefix: str) -> bool:
    match = _OWNER.match(name[len(prefix):])
    return match is not None and pid_alive(int(match.group(1)))


def cleanup_stale(prefix: str = PREFIX) -> list[str]:
    """Remove namespaces named ``prefix…`` whose owning process is gone; return their names
    (not those this process may not remove: it is not root)."""
    removed = []
    for name in listed(prefix):
        if _owner_alive(name, prefix):
            continue
        try:
            remove(name)
        except (FileNotFoundError, PermissionError):  # removed meanwhile, or not root
            continue
        removed.append(name)
    return removed


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def setns(fd: int, kind: int = CLONE_NEWNET) -> None:
    """Move the calling thread into the namespace open as ``fd``."""
    _check(_libc.setns(fd, kind), "setns")


def unshare_uts(hostname: str) -> None:
    """Give the calling process its own UTS namespace with ``hostname``."""
    _check(_libc.unshare(CLONE_NEWUTS), "unshare(CLONE_NEWUTS)")
    encoded = hostname.encode()
    _check(_libc.sethostname(encoded, len(encoded)), "sethostname")


def enter(name: str) -> None:
    """Move the calling thread (or a freshly forked child) into namespace ``name``."""
    fd = os.open(path(name), os.O_RDONLY)
    try:
        setns(fd)
    finally:
        os.close(fd)


@contextmanager
def inside(name: str) -> Iterator[None]:
    """Run the block with the calling thread in namespace ``name``.

    Sockets created in the block belong to that namespace for their whole life.
    """
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        enter(name)
        try:
            yield
        finally:
            setns(home)
    finally:
        os.close(home)
