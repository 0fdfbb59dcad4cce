"""Parties on separate hosts over real ssh: one OpenSSH server per host (loopback
addresses 127.0.0.2-4 here), a hosts file, ports chosen on each host, and the faults
that end such a run."""

from __future__ import annotations

import contextlib
import sys
import time

import psutil
import pytest
import yaml

from mpcbench import results
from tests import sshd
from tests.conftest import ONCE, REPO, invoke

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


@pytest.fixture
def servers(tmp_path):
    """A running sshd per address, all accepting one user key."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        first = stack.enter_context(sshd.sshd(tmp_path / "ssh0", ADDRESSES[0],
                                              sshd.free_port(ADDRESSES[0])))
        rest = [stack.enter_context(sshd.sshd(tmp_path / f"ssh{i}", a, sshd.free_port(a),
                                              user_key=first.key))
                for i, a in enumerate(ADDRESSES[1:], 1)]
        yield [first, *rest]


def _hosts_file(tmp_path, servers, **override) -> str:
    entries = [{"address": s.address, "ssh": s.destination, "python": sys.executable,
                "workdir": str(REPO), "ports": [47100, 47900], "ssh_options": s.options}
               for s in servers]
    for rank, entry in override.items():
        entries[int(rank[1:])].update(entry)
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump({"hosts": entries}))
    return str(path)


@pytest.mark.spu
def test_three_hosts_over_ssh_agree_with_plaintext(tmp_path, servers):
    """SPU's ABY3 (its brpc links and the control link beside them) across three hosts;
    MPyC over real sshd: test_deployments.py::test_three_emulated_hosts_over_real_sshd."""
    hosts = _hosts_file(tmp_path, servers)
    proc = invoke("run", *ONCE, "-f", "spu", "--set", "protocol=ABY3", "-m", "mlp", "-n", "3",
                  "--images", "16", "--batch", "16", "--hosts", hosts, "-r", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    df = results.load(tmp_path / "r")
    run = df[df["rank"] == -1].set_index("metric")["value"]
    assert run["agreement"] >= 0.99
    parties = df[df["rank"] >= 0].groupby("rank")["host"].first()
    assert parties.tolist() == [s.destination for s in servers]
    sent = df[(df.metric == "bytes_sent") & (df.phase == "total") & (df["rank"] >= 0)]
    assert (sent.value > 0).all()
    assert not any(map(_remote_parties, servers))


@pytest.mark.crypten
def test_a_ttp_dealer_on_the_host_after_the_parties(tmp_path, servers):
    """CrypTen TTP at 2 parties: the hosts file's third host runs the dealer (rank 2)."""
    hosts = _hosts_file(tmp_path, servers)
    proc = invoke("run", *ONCE, "-f", "crypten", "-m", "mlp", "-n", "2", "--images", "8", "--batch",
                  "4", "--set", "provider=TTP", "--hosts", hosts, "-r", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    df = results.load(tmp_path / "r")
    assert df[df["rank"] == -1].set_index("metric")["value"]["agreement"] == 1.0
    ranks = df[df["rank"] >= 0].groupby("rank")[["host", "role"]].first()
    assert ranks["host"].tolist() == [s.destination for s in servers]
    assert ranks["role"].tolist()[2] == "dealer"
    offline = df[(df.metric == "bytes_received_offline") & (df.phase == "total")]
    assert offline.set_index("rank")["value"][0] > 0
    assert not any(map(_remote_parties, servers))


def test_print_commands_names_every_party(tmp_path, servers):
    hosts = _hosts_file(tmp_path, servers)
    proc = invoke("run", "-f", "mpyc", "-m", "mlp", "-n", "3", "--hosts", hosts,
                  "--print-commands", "-r", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("ssh ")]
    assert len(lines) == 3
    for rank, (line, s) in enumerate(zip(lines, servers, strict=True)):
        assert s.destination in line and f"--rank {rank}" in line
    assert not list((tmp_path / "r").glob("*.parquet"))  # nothing ran, nothing stored


def test_unreachable_host_fails_naming_party_and_host(tmp_path, servers):
    hosts = _hosts_file(tmp_path, servers, r2={"ssh": "root@127.0.0.9",
                                               "address": "127.0.0.9"})
    start = time.monotonic()
    proc = invoke("run", *ONCE, "-f", "mpyc", "-m", "mlp", "-n", "3", "--hosts", hosts,
                  "-r", str(tmp_path / "r"))
    assert time.monotonic() - start < 30
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert "party 2 of 3" in line and "root@127.0.0.9" in line
    df = results.load(tmp_path / "r")
    assert df["status"].tolist() == ["failed"] and "127.0.0.9" in df["error"].iloc[0]


def test_wrong_number_of_hosts_is_refused(tmp_path, servers):
    hosts = _hosts_file(tmp_path, servers)
    proc = invoke("run", "-f", "mpyc", "-m", "mlp", "-n", "5", "--hosts", hosts,
                  "-r", str(tmp_path / "r"))
    assert proc.returncode == 2
    assert "lists 3 hosts for 5 parties" in proc.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.mpyc
def test_a_dropped_ssh_connection_ends_the_remote_party(tmp_path, servers):
    """Killing party 1's ssh client: its remote process sees the end of its input and
    stops, and the run fails naming party 1."""
    hosts = _hosts_file(tmp_path, servers)
    res = tmp_path / "r"
    cli = psutil.Popen([sys.executable, "-m", "mpcbench", "run", *ONCE, "-f", "mpyc",
                        "-m", "mlp", "-n", "3", "--images", "10000", "--batch", "32",
                        "--hosts", hosts,
                        "-r", str(res)], cwd=REPO, stdout=-1, stderr=-1, text=True)
    try:
        deadline = time.monotonic() + 60
        ssh = None
        while ssh is None and time.monotonic() < deadline:
            time.sleep(0.5)
            for child in cli.children(recursive=True):
                try:
                    cmd = child.cmdline()
                except psutil.NoSuchProcess:  # a short-lived one (a port query) is gone
                    continue
                if cmd and cmd[0] == "ssh" and "--rank" in cmd[-1] and "--rank 1" in cmd[-1]:
                    ssh = child
        assert ssh is not None, "party 1's ssh client never started"
        while not _remote_parties(servers[1]) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # the parties are connected and computing
        remote = [p for s in servers for p in _remote_parties(s)]
        assert len(remote) == 3, "not every remote party is running"
        ssh.kill()
        _, stderr = cli.communicate(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 1
    assert "party 1 of 3" in stderr
    deadline = time.monotonic() + 10
    while any(p.is_running() for p in remote) and time.monotonic() < deadline:
        time.sleep(0.2)
    # the same processes, wherever they were reparented to when their sshd session ended
    assert not [p for p in remote if p.is_running()], "a remote party outlived its ssh"


def _remote_parties(server: sshd.SshServer) -> list[psutil.Process]:
    found = []
    for p in sshd.sessions(server):
        with contextlib.suppress(psutil.NoSuchProcess):  # (a pulse or a shell that ended)
            if "mpcbench.parties.worker" in " ".join(p.cmdline()):
                found.append(p)
    return found
