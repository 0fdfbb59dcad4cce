"""The emulated network: one namespace and TUN device per party host, one forwarder.

:class:`Emulator` gives party ``r`` the host ``mpcb-<runid>-r<r>`` (address
``198.18.0.<r+1>/15``, MTU 65000, loopback up) whose only route to the other hosts is
its TUN device ``mpcb0`` (created inside the namespace, so the launcher's own network
never shows it), and runs the :mod:`forwarder <.forwarder>` that carries packets between
the devices through each ordered pair's link. Everything it creates goes away on
:meth:`Emulator.close` — called by the ``with`` block, on an exception, at interpreter
exit and on SIGTERM (turned into :class:`SystemExit` while the emulator runs) — and,
if the owner is killed outright, the forwarder removes the namespaces itself. What it
could not remove, the next run does: the namespaces' names and the forwarder's
environment name their owner (:mod:`mpcbench.owner`).
"""

from __future__ import annotations

import atexit
import fcntl
import ipaddress
import json
import os
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict
from functools import cache
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from ...errors import InputError, MpcbenchError
from ...owner import LAUNCHER_PID
from . import namespaces
from .hosts import Host
from .profiles import CUT, Link, Profile, get_profile

MTU = 65000
NETWORK = ipaddress.IPv4Network("198.18.0.0/15")
#: the device name of the TUN inside every host
DEVICE = "mpcb0"
#: packets a TUN device holds for the forwarder (the default 500 drops short bursts)
TXQLEN = 10_000
#: time the forwarder gets to stop before it is killed
STOP_S = 2.0

_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])


class NetworkError(MpcbenchError):
    """The emulated network could not be set up or its forwarder died."""


def open_tun(name: str) -> int:
    """Create the TUN device ``name`` in the calling thread's namespace; return its fd.

    The device lives as long as the descriptor (and its copies) stay open.
    """
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


@cache
def netem_available() -> bool:
    """Whether this kernel has ``tc netem`` (tried once on a throw-away namespace)."""
    name = f"{namespaces.PREFIX}{namespaces.new_run_id()}-netem"
    namespaces.create(name)
    try:
        with namespaces.inside(name), IPRoute() as ipr:
            ipr.tc("add", "netem", index=ipr.link_lookup(ifname="lo")[0], delay=1000)
        return True
    except NetlinkError:
        return False
    finally:
        namespaces.remove(name)


def _exit_on_signal(owner: int) -> Callable[[int, FrameType | None], None]:
    """A handler turning a signal into :class:`SystemExit`, so ``with`` blocks clean up.

    A child forked without exec just ends: it must not unwind the stack it copied from
    ``owner``.
    """
    def handler(signum: int, _frame: FrameType | None) -> None:
        if os.getpid() != owner:
            os._exit(128 + signum)
        raise SystemExit(128 + signum)
    return handler


class Emulator:
    """Party hosts on an emulated network with the links of ``profile``.

    Use as a context manager (or :meth:`start` / :meth:`close`). The netem path is not
    implemented: :attr:`mechanism` is always ``"tun-forwarder"`` and :meth:`describe`
    records whether netem would have been available.
    """

    mechanism = "tun-forwarder"

    def __init__(self, profile: Profile | str, parties: int, run_id: str | None = None,
                 mtu: int = MTU) -> None:
        self.profile = get_profile(profile) if not isinstance(profile, Profile) else profile
        if not self.profile.emulated:
            raise InputError(f"network profile {self.profile.name!r} means no emulated "
                             "network: run the parties on loopback instead")
        if parties < 2:
            raise InputError(f"an emulated network needs at least 2 parties, got {parties}")
        self.profile.check(parties)
        self.parties = parties
        self.run_id = run_id or namespaces.new_run_id()
        self.mtu = mtu
        self.hosts = [
            Host(rank=r, name=f"{namespaces.PREFIX}{self.run_id}-r{r}",
                 netns=f"{namespaces.PREFIX}{self.run_id}-r{r}",
                 address=str(NETWORK.network_address + r + 1), device=DEVICE)
            for r in range(parties)]
        self._links = {(s, d): self.profile.link(s, d)
                       for s in range(parties) for d in range(parties) if s != d}
        self._created: list[str] = []
        self._forwarder: subprocess.Popen | None = None
        #: one request at a time on the forwarder's control pipe
        self._control = threading.Lock()
        self._previous_sigterm: Any = None
        #: a child forked without exec (multiprocessing, say) must not tear this down
        self._owner = os.getpid()
        self._on_sigterm = _exit_on_signal(self._owner)
        self.stale_removed: list[str] = []
        #: the forwarder's own throughput limit, once :func:`~.probe.measure_ceiling` ran
        self.ceiling_bps: float | None = None
        #: how the forwarder is scheduled (:mod:`.priority`), once it runs
        self.forwarder_priority: str | None = None

    # -- life cycle -------------------------------------------------------------------

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def start(self) -> Emulator:
        """Create the hosts and start the forwarder; on any failure undo everything."""
        self._catch_sigterm()
        atexit.register(self.close)
        try:
            self.stale_removed = namespaces.cleanup_stale()
            fds = [self._make_host(host) for host in self.hosts]
            self._start_forwarder(fds)
        except BaseException:
            self.close()
            raise
        return self

    def _make_host(self, host: Host) -> int:
        namespaces.create(host.netns)
        self._created.append(host.netns)
        # the device and the netlink socket are born in the host's namespace
        with namespaces.inside(host.netns):
            fd = open_tun(host.device)
            try:
                with IPRoute() as ipr:
                    index = ipr.link_lookup(ifname=host.device)[0]
                    ipr.link("set", index=index, mtu=self.mtu, txqlen=TXQLEN)
                    ipr.addr("add", index=index, address=host.address,
                             prefixlen=NETWORK.prefixlen)
                    ipr.link("set", index=index, state="up")
                    ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
            except BaseException:
                os.close(fd)
                raise
        return fd

    def _start_forwarder(self, fds: list[int]) -> None:
        config = {"fds": fds, "addresses": [h.address for h in self.hosts], "mtu": self.mtu,
                  "namespaces": list(self._created),
                  "links": [[asdict(self._links[(s, d)]) if s != d else None
                             for d in range(self.parties)] for s in range(self.parties)]}
        env = {**os.environ, LAUNCHER_PID: str(self._owner),
               "PYTHONPATH": os.pathsep.join(filter(None, [_PACKAGE_ROOT,
                                                           os.environ.get("PYTHONPATH")]))}
        try:
            self._forwarder = subprocess.Popen(
                [sys.executable, "-m", "mpcbench.launch.network.forwarder", json.dumps(config)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, pass_fds=fds,
                env=env, start_new_session=True)
        finally:
            for fd in fds:
                os.close(fd)
        hello = self._forwarder.stdout.readline()
        if not hello:
            raise NetworkError("the network emulator's forwarder failed to start "
                               f"(exit code {self._forwarder.wait()})")
        self.forwarder_priority = json.loads(hello)["priority"]

    def close(self) -> None:
        """Stop the forwarder and remove every namespace; safe to call more than once."""
        if os.getpid() != self._owner:
            return
        atexit.unregister(self.close)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        try:
            self._stop_forwarder()
            for name in self._created:
                namespaces.remove(name)
            self._created.clear()
        finally:
            self._restore_sigterm()
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _stop_forwarder(self) -> None:
        proc, self._forwarder = self._forwarder, None
        if proc is None:
            return
        with suppress(OSError):
            proc.stdin.write('{"op": "stop"}\n')
            proc.stdin.close()
        try:
            proc.wait(STOP_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    def _catch_sigterm(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            self._previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)

    def _restore_sigterm(self) -> None:
        if self._previous_sigterm is not None:
            if signal.getsignal(signal.SIGTERM) is self._on_sigterm:
                signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None

    # -- runtime control --------------------------------------------------------------

    def _request(self, req: dict[str, Any]) -> dict[str, Any]:
        proc = self.check()
        with self._control:
            try:
                proc.stdin.write(json.dumps(req) + "\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
            except OSError:
                line = ""
        if not line:
            raise NetworkError(f"the network emulator's forwarder died (exit code {proc.wait()})")
        answer = json.loads(line)
        if not answer["ok"]:
            raise NetworkError(answer["error"])
        return answer

    def check(self) -> subprocess.Popen:
        """The running forwarder; :class:`NetworkError` if it is gone (no link would work)."""
        proc = self._forwarder
        if proc is None:
            raise NetworkError("the emulated network is not running")
        if proc.poll() is not None:
            raise NetworkError("the network emulator's forwarder died "
                               f"(exit code {proc.returncode})")
        return proc

    def link(self, src: int, dst: int) -> Link:
        """The link from host ``src`` to host ``dst`` as it is now."""
        return self._links[(src, dst)]

    def set_link(self, src: int, dst: int, link: Link) -> None:
        """Change the link from ``src`` to ``dst`` at once (packets in flight keep theirs)."""
        if (src, dst) not in self._links:
            raise InputError(f"no link {src} -> {dst} among {self.parties} hosts")
        self._request({"op": "set", "src": src, "dst": dst, "link": asdict(link)})
        self._links[(src, dst)] = link

    def cut(self, src: int, dst: int, both_ways: bool = True) -> None:
        """Cut the link ``src`` -> ``dst`` (and back): 100 % loss until :meth:`restore`."""
        for a, b in [(src, dst), (dst, src)][: 2 if both_ways else 1]:
            self.set_link(a, b, CUT)

    def restore(self, src: int, dst: int, both_ways: bool = True) -> None:
        """Give ``src`` -> ``dst`` (and back) the profile's link again."""
        for a, b in [(src, dst), (dst, src)][: 2 if both_ways else 1]:
            self.set_link(a, b, self.profile.link(a, b))

    def stats(self) -> dict[str, Any]:
        """What the forwarder did so far.

        ``links``: per ordered pair, packets and bytes carried, packets lost and dropped
        by the queue; ``released``: packets delivered, ``late_mean_s`` / ``late_max_s``:
        how late after their due time (the emulator's own timing error).
        """
        answer = self._request({"op": "stats"})
        del answer["ok"]
        return answer

    def describe(self) -> dict[str, Any]:
        """What a run records: mechanism, requested links per pair and the hosts."""
        return {"emulator": self.mechanism, "netem_available": netem_available(),
                "mtu": self.mtu, "ceiling_bps": self.ceiling_bps,
                "forwarder_priority": self.forwarder_priority, "run_id": self.run_id,
                "stale_removed": self.stale_removed,
                "profile": self.profile.describe(self.parties),
                "hosts": [h.describe() for h in self.hosts]}
