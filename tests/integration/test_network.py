"""The emulated network: hosts in namespaces, link delay/rate/loss, cuts, and cleanup.

Needs root (network namespaces and TUN devices), like CI.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import psutil
import pytest

from mpcbench.errors import InputError
from mpcbench.launch.network import (
    NAMED,
    Emulator,
    Host,
    Link,
    NetworkError,
    Profile,
    cleanup_stale,
    get_profile,
    namespaces,
    probe,
)
from mpcbench.launch.network.probe import rtt
from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ECHO_SERVER = textwrap.dedent("""
    import socket, sys
    srv = socket.create_server((sys.argv[1], 0))
    print(srv.getsockname()[1], flush=True)
    conn, _ = srv.accept()
    conn.sendall(conn.recv(100).upper())
""")
ECHO_CLIENT = textwrap.dedent("""
    import socket, sys
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as s:
        s.sendall(sys.argv[3].encode())
        print(s.recv(100).decode())
""")


def _leftovers(run_id: str) -> list[str]:
    """Namespaces, TUN devices and forwarder processes of ``run_id`` still on the machine."""
    left = [n for n in namespaces.listed() if run_id in n]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    left += [line for line in links.splitlines() if ": mpcb" in line]
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "network.forwarder" in cmd and run_id in cmd:
            left.append(f"process {proc.pid}")
    return left


def _echo(src, dst, payload: bytes = b"ping", timeout: float = 5.0) -> bytes:
    """Send ``payload`` from host ``src`` to an echo on host ``dst``; return the answer."""
    with dst.socket() as server, src.socket() as client:
        server.bind((dst.address, 0))
        server.listen(1)
        client.settimeout(timeout)
        client.connect(server.getsockname())
        conn, _ = server.accept()
        with conn:
            client.sendall(payload)
            conn.sendall(conn.recv(100))
            return client.recv(100)


def test_three_lan_hosts_talk_and_are_distinct():
    with Emulator("lan", 3) as emu:
        for a in emu.hosts:
            for b in emu.hosts:
                if a is not b:
                    message = f"{a.rank}>{b.rank}".encode()
                    assert _echo(a, b, message) == message
        seen = []
        for host in emu.hosts:
            out = host.popen(["sh", "-c", "hostname; ip -o -4 addr show dev mpcb0; ip -o link"],
                             stdout=subprocess.PIPE, text=True).communicate(timeout=10)[0]
            name, addr, *links = out.splitlines()
            assert name == host.name and f"inet {host.address}/15" in addr
            assert [ln.split(":")[1].strip() for ln in links] == ["lo", "mpcb0"]
            seen.append((name, host.address))
        assert len({n for n, _ in seen}) == 3 and len({a for _, a in seen}) == 3
        assert socket.gethostname() not in {n for n, _ in seen}
        # party-like processes: a server in host 2, a client in host 0 (the shell prefix form)
        server = emu.hosts[2].popen([sys.executable, "-c", ECHO_SERVER, emu.hosts[2].address],
                                    stdout=subprocess.PIPE, text=True)
        port = server.stdout.readline().strip()
        client = subprocess.run(
            emu.hosts[0].command([sys.executable, "-c", ECHO_CLIENT, emu.hosts[2].address,
                                  port, "hello"]), capture_output=True, text=True, timeout=10)
        assert client.stdout.strip() == "HELLO", client.stderr
        assert server.wait(5) == 0
        described = emu.describe()
        assert described["emulator"] == "tun-forwarder" and described["netem_available"] is False
        assert described["forwarder_priority"] == "SCHED_RR 10"  # root may use real time
        assert [h["address"] for h in described["hosts"]] == [h.address for h in emu.hosts]
        assert len(described["profile"]["links"]) == 6
        json.dumps(described)
    assert _leftovers(emu.run_id) == []


def test_sixteen_hosts_share_a_port_number_and_probe_a_sample():
    with Emulator("lan", 16) as emu:
        with ExitStack() as stack:  # every host has its own port space
            for host in emu.hosts:
                server = stack.enter_context(host.socket())
                server.bind((host.address, 7000))
                server.listen(1)
            for host in emu.hosts[1:]:
                with emu.hosts[0].socket() as client:
                    client.settimeout(5)
                    client.connect((host.address, 7000))
        result = probe(emu, pings=3, seconds=0.1, ceiling=False)
        assert result["rtt_pairs"] == "rank 0 with every rank, and neighbouring ranks"
        assert len(result["links"]) == 2 * (15 + 15 - 1)  # (0, 1) is both kinds
        assert sum(r["measured_rate_bps"] is not None for r in result["links"]) == 1
        assert len({h["hostname"] for h in emu.describe()["hosts"]}) == 16
    assert _leftovers(emu.run_id) == []


def test_named_profiles_and_local_hosts():
    assert NAMED["wan"].link(0, 1) == Link(delay_s=0.035, rate_bps=320e6)
    assert NAMED["lan"].link(2, 0) == Link(delay_s=1e-4, rate_bps=10e9)
    assert not NAMED["none"].emulated
    with pytest.raises(InputError, match="no emulated network"):
        Emulator("none", 2)
    a, b = Host.local(0), Host.local(1)
    assert _echo(a, b) == b"ping" and a.command(["true"]) == ["true"]


def test_wan_rtt_is_within_ten_percent_and_its_rate_within_fifteen():
    with Emulator("wan", 2) as emu:
        result = probe(emu, ceiling=False)
    assert result["rtt_pairs"] == "all pairs" and len(result["links"]) == 2
    for row in result["links"]:
        assert row["requested_rtt_s"] == pytest.approx(0.070)
        assert row["measured_rtt_s"] == pytest.approx(0.070, rel=0.10), row
        assert row["requested_rate_bps"] == 320e6
        assert row["measured_rate_bps"] == pytest.approx(320e6, rel=0.15), row


def test_rate_limited_link_measures_its_rate_and_the_ceiling_is_recorded():
    profile = Profile("r80", Link(delay_s=0.002, rate_bps=80e6),
                      {(1, 0): Link(delay_s=0.002, rate_bps=40e6)})
    with Emulator(profile, 2) as emu:
        result = probe(emu, pings=1)
        rates = {(r["src"], r["dst"]): r["measured_rate_bps"] for r in result["links"]}
        assert rates[(0, 1)] == pytest.approx(80e6, rel=0.15), emu.stats()
        assert rates[(1, 0)] == pytest.approx(40e6, rel=0.15), emu.stats()
        # the ceiling test restored the links
        assert (emu.link(0, 1).rate_bps, emu.link(1, 0).rate_bps) == (80e6, 40e6)
        # the ceiling is the forwarder's own limit, far above the link it replaced for the test
        assert emu.describe()["ceiling_bps"] == result["ceiling_bps"] > 4 * 80e6


def test_yaml_profile_sets_per_pair_delays(tmp_path):
    path = tmp_path / "tri.yaml"
    path.write_text("default: {delay_ms: 1}\n"
                    "matrix:\n  delay_ms: [[0, 1, 10], [1, 0, 1], [10, 1, 0]]\n"
                    "links:\n  - {src: 2, dst: 0, delay_ms: 20}\n")
    with Emulator(str(path), 3) as emu:
        assert rtt(emu.hosts[0], emu.hosts[1]) == pytest.approx(0.002, abs=0.002)
        assert rtt(emu.hosts[0], emu.hosts[2]) == pytest.approx(0.030, abs=0.006)
    path.write_text("default: {delay_ms: 1, rate: 10}\n")
    with pytest.raises(InputError, match=r"^network profile .*tri.yaml: default.rate: Extra"):
        get_profile(path)
    with pytest.raises(InputError, match="No such file"):
        get_profile(tmp_path / "missing.yaml")
    with pytest.raises(InputError, match="has only 2 parties"):
        Emulator(Profile("big", overrides={(2, 0): Link()}), 2)


def test_loss_and_jitter_keep_order():
    lossy = Profile("lossy", Link(delay_s=0.005, jitter_s=0.004, loss=0.3))
    with Emulator(lossy, 2) as emu:
        a, b = emu.hosts
        with b.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
                a.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)  # holds all 1000
            rx.bind((b.address, 0))
            rx.settimeout(0.5)
            for i in range(1000):
                tx.sendto(i.to_bytes(4, "big"), rx.getsockname())
            got = []
            try:
                while True:
                    got.append(int.from_bytes(rx.recv(4), "big"))
            except TimeoutError:
                pass
        assert len(got) == pytest.approx(700, abs=60)
        assert got == sorted(got)  # jitter without reordering: every link is FIFO
        stats = emu.stats()
        lost = {(s["src"], s["dst"]): s["lost"] for s in stats["links"]}
        assert lost[(0, 1)] == 1000 - len(got)
        assert stats["released"] == len(got) and stats["late_max_s"] >= stats["late_mean_s"] >= 0


def test_cut_stalls_a_connection_and_restore_resumes_it():
    with Emulator("lan", 2) as emu:
        a, b = emu.hosts
        with b.socket() as server, a.socket() as client:
            server.bind((b.address, 0))
            server.listen(1)
            client.connect(server.getsockname())
            conn, _ = server.accept()
            conn.settimeout(0.5)
            client.sendall(b"before")
            assert conn.recv(100) == b"before"
            emu.cut(0, 1)
            assert emu.link(1, 0).loss == 1.0
            client.sendall(b"during")
            with pytest.raises(TimeoutError):
                conn.recv(100)
            with a.socket() as late, pytest.raises(TimeoutError):
                late.settimeout(0.5)
                late.connect(server.getsockname())
            emu.restore(0, 1)
            conn.settimeout(5)
            assert conn.recv(100) == b"during"  # TCP retransmits once the link is back
            conn.close()
        assert _echo(a, b) == b"ping"


def test_everything_is_removed_after_an_exception():
    threads = set(threading.enumerate())
    scheduling = os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0)
    with pytest.raises(RuntimeError, match="boom"), Emulator("lan", 2) as emu:
        assert len(_leftovers(emu.run_id)) == 3  # two namespaces and the forwarder
        probe(emu, pings=1, seconds=0.05)
        raise RuntimeError("boom")
    assert _leftovers(emu.run_id) == []
    assert set(threading.enumerate()) == threads
    # the probe's pings ran at real-time priority, and this thread is back to normal
    assert (os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0)) == scheduling


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_dead_forwarder_is_reported_and_still_cleaned_up(sig):
    with Emulator("zero", 2) as emu:
        forwarder = [p for p in _leftovers(emu.run_id) if p.startswith("process ")]
        process = psutil.Process(int(forwarder[0].split()[1]))
        process.send_signal(sig)
        process.wait(5)
        if sig == signal.SIGTERM:  # it removes the namespaces on its way out
            assert _leftovers(emu.run_id) == []
        with pytest.raises(NetworkError, match="forwarder died"):
            emu.check()
        with pytest.raises(NetworkError, match="forwarder died"):
            emu.cut(0, 1)
    assert _leftovers(emu.run_id) == []


#: an emulator's owner as a program in a terminal's foreground: Ctrl-C (SIGINT) raises
#: KeyboardInterrupt in it (the test suite itself may run as a background job of a
#: non-interactive shell, whose children inherit SIGINT and SIGQUIT ignored)
OWNER = textwrap.dedent("""
    import json, signal, sys, time
    from mpcbench.launch.network import Emulator
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with Emulator("lan", 2) as emu:
        print(emu.run_id, flush=True)
        time.sleep(60)
""")


def _where(pid: int) -> str:
    """What the kernel says of a process that does not end: its signal masks, its threads
    and where each waits, its children (said when the test fails; the process is killed)."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    masks = [line for line in status if line.startswith(("State", "Sig", "Shd"))]
    threads = [f"{t.name} {(t / 'comm').read_text().strip()} "
               f"{(t / 'wchan').read_text().strip()}"
               for t in sorted(Path(f"/proc/{pid}/task").iterdir())]
    children = [c.cmdline()[:3] for c in psutil.Process(pid).children(recursive=True)]
    os.kill(pid, signal.SIGKILL)
    return f"{masks}; threads {threads}; children {children}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_signalled_owner_leaves_nothing(sig):
    owner = subprocess.Popen([sys.executable, "-c", OWNER], cwd=REPO, stdout=subprocess.PIPE,
                             text=True)
    run_id = owner.stdout.readline().strip()
    assert run_id and len(_leftovers(run_id)) == 3
    owner.send_signal(sig)
    try:
        code = owner.wait(10)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the owner did not end within 10 s of {sig.name}: {_where(owner.pid)}")
    assert code == {signal.SIGTERM: 143, signal.SIGINT: -2, signal.SIGKILL: -9}[sig]
    deadline = time.monotonic() + 5  # after SIGKILL the forwarder cleans up by itself
    while _leftovers(run_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _leftovers(run_id) == []


def test_cleanup_stale_removes_only_dead_owners():
    # a pid above any pid_max is never a live process
    dead = f"{namespaces.PREFIX}4194999x{os.urandom(2).hex()}-r0"
    namespaces.create(dead)
    with Emulator("zero", 2) as emu:
        assert dead not in namespaces.listed()  # start() cleared the crashed run's leftover
        namespaces.create(dead)
        assert dead in cleanup_stale() and dead not in namespaces.listed()
        assert len(_leftovers(emu.run_id)) == 3
    assert _leftovers(emu.run_id) == []
