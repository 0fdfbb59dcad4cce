"""Parties on separate hosts, started over ssh: the hosts file and the commands it gives.

A hosts file (YAML) lists one entry per party, in rank order::

    hosts:
      - address: 198.18.0.1          # where the other parties reach this one
        ssh: root@198.18.0.1         # ssh destination (omit: start it on this machine)
        python: /srv/mpcbench/.venv/bin/python
        workdir: /srv/mpcbench       # cd here first
        ports: [47000, 47999]        # the party listens on a free port of this range
        ssh_options: [-i, /root/.ssh/id_mpcbench, -p, "22"]

Each party is started with the standard OpenSSH client, non-interactive and key-based
(``BatchMode``), and reads the run spec on its standard input; a party whose ssh
connection drops sees the end of that input and stops. Its port is chosen on its own
host, by a short ssh command, before the run starts.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import InputError, RunFailed

#: ssh options every party connection gets: no prompts, and a dead link noticed in ~6 s
SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=2",
               "-o", "ServerAliveCountMax=3")
#: the remote snippet that prints free TCP ports of a range on the remote host
_FREE_PORTS = (
    "import socket,sys\n"
    "lo,hi,n,host=int(sys.argv[1]),int(sys.argv[2]),int(sys.argv[3]),sys.argv[4]\n"
    "found=[]\n"
    "for p in range(lo,hi+1):\n"
    "    s=socket.socket()\n"
    "    try:\n"
    "        s.bind((host,p)); found.append(p)\n"
    "    except OSError: pass\n"
    "    finally: s.close()\n"
    "    if len(found)==n: break\n"
    "print(*found)\n"
)


class HostsError(InputError):
    """A hosts file is missing, malformed or does not fit the run."""


class HostUnreachable(RunFailed):
    """A host did not answer over ssh (down, refused, no key, no mpcbench there)."""


class Host(BaseModel):
    """One party's host."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: Annotated[str, Field(min_length=1)]
    ssh: str | None = None
    #: the interpreter with mpcbench installed (default: this one locally, python3 over ssh)
    python: str | None = None
    workdir: str | None = None
    ports: tuple[int, int] = (47000, 47999)
    ssh_options: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _ports_in_order(self) -> Host:
        lo, hi = self.ports
        if not 1024 <= lo <= hi <= 65535:
            raise ValueError(f"ports must be a range within 1024..65535, got {list(self.ports)}")
        return self

    def run(self, remote_args: list[str]) -> list[str]:
        """The command that runs ``python remote_args...`` on this host (in ``workdir``)."""
        python = self.python or ("python3" if self.ssh else sys.executable)
        inner = shlex.join([python, *remote_args])
        if self.workdir:
            inner = f"cd {shlex.quote(self.workdir)} && {inner}"
        if self.ssh is None:
            return ["bash", "-c", inner]
        return ["ssh", *SSH_OPTIONS, *self.ssh_options, self.ssh, inner]

    @property
    def label(self) -> str:
        """How errors name the host."""
        return self.ssh or self.address


class HostsFile(BaseModel):
    """A hosts file: one host per party, in rank order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hosts: Annotated[list[Host], Field(min_length=1)]


def load_hosts(path: Path, parties: int) -> list[Host]:
    """The hosts of ``path`` for a run of ``parties``; :class:`HostsError` says what is wrong."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise HostsError(f"hosts file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise HostsError(f"hosts file {path} is not valid YAML: {exc}") from None
    try:
        hosts = HostsFile.model_validate(raw).hosts
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise HostsError(f"hosts file {path}: {where}: {first['msg']}") from None
    if len(hosts) != parties:
        raise HostsError(f"hosts file {path} lists {len(hosts)} hosts for {parties} parties "
                         "(one per party, in rank order)")
    return hosts


def free_ports(host: Host, count: int = 1, timeout_s: float = 20.0) -> list[int]:
    """``count`` free ports of the host's range, found on the host itself;
    :class:`HostUnreachable` if it does not answer."""
    lo, hi = host.ports
    args = ["-c", _FREE_PORTS, str(lo), str(hi), str(count), host.address]
    cmd = host.run(args)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise HostUnreachable(f"host {host.label} did not answer within {timeout_s:g} s") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise HostUnreachable(f"cannot reach host {host.label}: {last}")
    ports = [int(p) for p in proc.stdout.split()]
    if len(ports) < count:
        raise HostUnreachable(f"host {host.label} has no free port in {lo}-{hi}")
    return ports
