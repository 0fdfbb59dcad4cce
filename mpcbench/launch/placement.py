"""Where each party of a run lives and how it is started: its address (``host:port``),
the command that runs the party program there, and the host name stored on its rows.

* :func:`local`: every party on this machine, on free loopback ports (the default);
* :func:`templated`: parties on ``--hosts a,b,...`` started through a ``--remote`` shell
  template;
* :func:`from_hosts`: one host per party from a hosts file (:mod:`.hosts`), started
  over ssh, ports chosen on each host;
* :func:`emulated`: every party its own host (network namespace) on this machine, on
  the links of a network profile (:mod:`.network`), measured before the parties start.

Each returns a :data:`Placer`: given the party count, a context manager that holds the
placement for the time of the run (and removes whatever it made for it).

A party on another host reads the run spec on its standard input, so a command needs
nothing but a way to run ``python -m mpcbench.parties.worker`` there.
"""

from __future__ import annotations

import re
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from .hosts import Host, HostUnreachable, load_hosts
from .hosts import free_ports as host_ports
from .ports import check_ports, free_ports

#: the party program's arguments -> the command that starts it on its host
Starter = Callable[[list[str]], list[str]]
#: placeholders of a ``--remote`` template; any other brace or ``$`` reaches the shell as is
_PLACEHOLDER = re.compile(r"\$\{(host|worker)\}|\$(host|worker)\b|\{(host|worker)\}")


@dataclass(frozen=True)
class Placement:
    """The hosts of a run's parties, indexed by rank."""

    #: ``host:port`` every party listens on (party 0's is also the rendezvous)
    addresses: tuple[str, ...]
    starters: tuple[Starter, ...]
    #: the host of each party, as stored on its rows
    hosts: tuple[str, ...]
    #: how the parties were placed: ``local``, ``remote``, ``ssh``, ...
    kind: str = "local"
    #: what else a run's record keeps about the placement (e.g. the emulated network)
    details: dict[str, Any] = field(default_factory=dict)
    #: after a failed run: what the placement knows of its cause (e.g. a memory cap hit)
    diagnose: Callable[[], str | None] | None = None
    #: asked about once a second while the parties run: a reason to stop the run, or None
    watch: Callable[[], str | None] | None = None
    #: whether the parties read the spec on stdin (else from the launcher's spec file,
    #: for parties that share this machine's file system)
    spec_on_stdin: bool = False

    @property
    def on_this_machine(self) -> bool:
        """Whether every party is a process of this machine, the one the launcher starts
        (its kernel state readable in ``/proc``): local and emulated hosts."""
        return self.kind in ("local", "emulated")

    @property
    def record(self) -> dict[str, Any]:
        """The placement as stored in a run's ``backend_config``."""
        return {"placement": {"kind": self.kind, "hosts": list(self.hosts), **self.details}}


#: party count -> the placement, held for the time of the run
Placer = Callable[[int], AbstractContextManager[Placement]]


def check_remote(template: str) -> None:
    """:class:`InputError` unless ``template`` has a worker placeholder."""
    if not any("worker" in m.group(0) for m in _PLACEHOLDER.finditer(template)):
        raise InputError(f"--remote template has no {{worker}} (or $worker): {template!r}")


def remote_command(template: str, host: str, worker: str) -> str:
    """``template`` with its ``{host}``/``$host``/``${host}`` replaced by ``host`` (shell
    quoted) and its ``{worker}``/``$worker``/``${worker}`` by ``worker``; nothing else of
    it changes, so other braces and ``$`` reach the shell as written."""
    values = {"host": shlex.quote(host), "worker": worker}
    return _PLACEHOLDER.sub(lambda m: values[next(g for g in m.groups() if g)], template)


def worker_args(rank: int, spec: str = "-", run_id: str = "") -> list[str]:
    """Arguments of the party program for ``rank`` of run ``run_id`` (the spec from stdin
    by default); the run id names the party's run in its command line."""
    return ["-m", "mpcbench.parties.worker", "--spec", spec, "--rank", str(rank),
            *(["--run", run_id] if run_id else []), "--watch-stdin"]


def _here(args: list[str]) -> list[str]:
    return [sys.executable, *args]


def local(port: int | None = None) -> Placer:
    """Every party on this machine, on ``port..port+n-1`` or on free loopback ports."""

    def place(parties: int) -> AbstractContextManager[Placement]:
        ports = check_ports(port, parties) if port else free_ports(parties)
        return nullcontext(Placement(tuple(f"127.0.0.1:{p}" for p in ports),
                                     (_here,) * parties, ("127.0.0.1",) * parties))

    return place


def templated(hosts: list[str], template: str, port: int | None = None) -> Placer:
    """Party ``r`` on ``hosts[r % len(hosts)]``, started through ``template``."""
    check_remote(template)

    def starter(host: str) -> Starter:
        return lambda args: ["bash", "-c", remote_command(template, host, shlex.join(args))]

    def place(parties: int) -> AbstractContextManager[Placement]:
        ports = check_ports(port, parties) if port else free_ports(parties)
        placed = [hosts[r % len(hosts)] for r in range(parties)]
        return nullcontext(Placement(
            tuple(f"{h}:{p}" for h, p in zip(placed, ports, strict=True)),
            tuple(starter(h) for h in placed), tuple(placed), "remote", spec_on_stdin=True))

    return place


def from_hosts(path: Path) -> Placer:
    """Party ``r`` on entry ``r`` of the hosts file ``path``, started over ssh."""
    return lambda parties: nullcontext(_ssh_placement(path, parties))


def _ssh_placement(path: Path, parties: int) -> Placement:
    hosts = load_hosts(path, parties)
    per_host: dict[Host, list[int]] = {}
    for h in dict.fromkeys(hosts):  # a host carrying several parties is asked once for all
        ranks = [r for r, x in enumerate(hosts) if x == h]
        try:
            per_host[h] = host_ports(h, len(ranks))
        except HostUnreachable as exc:
            names = ", ".join(map(str, ranks))
            raise HostUnreachable(f"party {names} of {parties}: {exc}") from None
    addresses = [f"{h.address}:{per_host[h].pop(0)}" for h in hosts]
    return Placement(tuple(addresses), tuple(h.run for h in hosts),
                     tuple(h.label for h in hosts), "ssh", spec_on_stdin=True)


#: the port every party listens on in its own emulated host (each host has its own stack)
EMULATED_PORT = 47000


@dataclass(frozen=True)
class Cut:
    """A fault to inject: the link ``src`` <-> ``dst`` loses every packet from ``after_s``
    seconds after the parties started."""

    src: int
    dst: int
    after_s: float

    @classmethod
    def parse(cls, text: str) -> Cut:
        """``0-1@5`` (cut the link between ranks 0 and 1 after 5 s)."""
        m = re.fullmatch(r"(\d+)-(\d+)@(\d+(?:\.\d+)?)s?", text.strip())
        if not m or m.group(1) == m.group(2):
            raise InputError(f"--cut {text!r}: give two ranks and a time, e.g. 0-1@5")
        return cls(int(m.group(1)), int(m.group(2)), float(m.group(3)))


def emulated(profile: str, cuts: tuple[Cut, ...] = ()) -> Placer:
    """Party ``r`` in emulated host ``r`` on the links of ``profile`` (needs root), with
    ``cuts`` injected while the parties run."""

    @contextmanager
    def place(parties: int) -> Iterator[Placement]:
        from .network import Emulator, probe

        with Emulator(profile, parties) as emu:
            fidelity = probe(emu)

            def starter(host: Any) -> Starter:
                return lambda args: host.command([sys.executable, *args])

            yield Placement(
                tuple(f"{h.address}:{EMULATED_PORT}" for h in emu.hosts),
                tuple(starter(h) for h in emu.hosts), tuple(h.name for h in emu.hosts),
                "emulated", {"network": emu.describe(), "probe": fidelity,
                             "faults": [{"cut": [c.src, c.dst], "after_s": c.after_s}
                                        for c in cuts]},
                diagnose=lambda: _network_cause(emu), watch=_link_watch(emu, cuts))

    return place


#: a link that lost packets and carried none for this long is taken as cut
DEAD_LINK_S = 4.0


def _link_watch(emu: Any, cuts: tuple[Cut, ...] = ()) -> Callable[[], str | None]:
    """A watch of the forwarder's counters: the forwarder died, or a link lost every
    packet sent over it for :data:`DEAD_LINK_S`. It also injects ``cuts`` when due."""
    history: list[tuple[float, dict[tuple[int, int], tuple[int, int]]]] = []
    started = time.monotonic()
    pending = sorted(cuts, key=lambda c: c.after_s)

    def watch() -> str | None:
        while pending and time.monotonic() - started >= pending[0].after_s:
            cut = pending.pop(0)
            emu.cut(cut.src, cut.dst)
        try:
            links = emu.stats()["links"]
        except Exception as exc:  # the forwarder is gone: nothing can talk any more
            return f"the emulated network failed: {exc}"
        now = time.monotonic()
        history.append((now, {(ln["src"], ln["dst"]): (ln["packets"], ln["lost"])
                              for ln in links}))
        while len(history) > 1 and now - history[1][0] >= DEAD_LINK_S:
            history.pop(0)
        then, before = history[0]
        if now - then < DEAD_LINK_S:
            return None
        for pair, (packets, lost) in sorted(history[-1][1].items()):
            old_packets, old_lost = before.get(pair, (0, 0))
            if lost > old_lost and packets == old_packets:
                return (f"link {pair[0]}->{pair[1]} of the emulated network lost all "
                        f"{lost - old_lost} packets sent over it in {now - then:.0f} s "
                        "(cut?)")
        return None

    return watch


def _network_cause(emu: Any) -> str | None:
    """A dead forwarder as the cause of a failed run (a dead link is the watch's to find,
    from what the forwarder carried)."""
    try:
        emu.check()
    except Exception as exc:  # the forwarder died: that is the cause
        return f"the emulated network failed: {exc}"
    return None
