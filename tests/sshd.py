"""A real OpenSSH server for tests: its own host key, one authorized user key, listening
on one address (optionally inside a network namespace), stopped and removed on exit."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


@dataclass(frozen=True)
class SshServer:
    """How to reach a running test sshd."""

    address: str
    port: int
    key: Path
    #: the listening sshd (sessions are its descendants)
    pid: int

    @property
    def destination(self) -> str:
        return f"root@{self.address}"

    @property
    def options(self) -> list[str]:
        return ["-i", str(self.key), "-p", str(self.port), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]


def sessions(server: SshServer) -> list[psutil.Process]:
    """Live processes started through ``server``'s ssh sessions."""
    try:
        return psutil.Process(server.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True)


@contextmanager
def sshd(workdir: Path, address: str = "127.0.0.1", port: int = 2222,
         prefix: list[str] | None = None, user_key: Path | None = None) -> Iterator[SshServer]:
    """Run ``sshd`` on ``address:port`` (inside ``prefix``, e.g. ``ip netns exec NS``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    _keygen(workdir / "host_key")
    if user_key is None:
        user_key = workdir / "user_key"
        _keygen(user_key)
    (workdir / "authorized_keys").write_text(Path(f"{user_key}.pub").read_text())
    config = workdir / "sshd_config"
    config.write_text("\n".join([
        f"ListenAddress {address}:{port}", f"HostKey {workdir / 'host_key'}",
        f"AuthorizedKeysFile {workdir / 'authorized_keys'}", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
        "StrictModes no", "UsePAM no", f"PidFile {workdir / 'sshd.pid'}", "",
    ]))
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    log = (workdir / "sshd.log").open("w")
    proc = subprocess.Popen([*(prefix or []), SSHD, "-D", "-e", "-f", str(config)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while "Server listening" not in (workdir / "sshd.log").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not start: {(workdir / 'sshd.log').read_text()}")
            time.sleep(0.05)
        yield SshServer(address, port, user_key, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def free_port(address: str = "127.0.0.1") -> int:
    """A port that is free on ``address`` now."""
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]
