"""Deployments on one machine (as root): every party its own emulated host, LAN and WAN
links, real sshd on the emulated hosts, and the faults that must end a run cleanly —
with no namespace, TUN device or party process left."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import psutil
import pytest
import yaml

from mpcbench import results
from mpcbench.launch.network import Emulator
from tests import sshd
from tests.conftest import ONCE, REPO, invoke, party_processes, unwarned
from tests.integration.conftest import CRYPTEN_MLP_2

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300),
              pytest.mark.usefixtures("no_emulated_hosts_left")]


def _run(res, framework, network, *extra, images="16", batch="16", parties="3"):
    proc = invoke("run", *ONCE, "-f", framework, "-m", "mlp", "-n", parties, "--images", images,
                  "--batch", batch, "--network", network, *extra, "-r", str(res))
    assert proc.returncode == 0, proc.stderr
    return results.load(res)


@pytest.mark.crypten
def test_wan_costs_at_least_the_counted_rounds_times_rtt(tmp_path, shared_run):
    """The same run on loopback (the one other files assert on) and on the WAN."""
    near = shared_run(CRYPTEN_MLP_2).rows
    far = _run(tmp_path, "crypten", "wan", images=str(CRYPTEN_MLP_2.images),
               batch=str(CRYPTEN_MLP_2.batch), parties=str(CRYPTEN_MLP_2.parties))

    def infer(df, metric):
        sel = df[(df["rank"] >= 0) & (df["phase"] == "infer") & (df["metric"] == metric)]
        return sel["value"].max()

    rounds = infer(far, "rounds")
    assert rounds == infer(near, "rounds") > 0
    assert infer(far, "wall_s") - infer(near, "wall_s") >= 0.9 * rounds * 0.070
    probe = json.loads(far["backend_config"].iloc[0])["placement"]["probe"]["links"]
    for link in probe:
        assert link["measured_rtt_s"] == pytest.approx(0.070, rel=0.10)


@pytest.mark.mpyc
def test_three_emulated_hosts_over_real_sshd(tmp_path):
    """One sshd inside each emulated host; the launcher runs on host 0 and starts every
    party over ssh through the emulated network."""
    from contextlib import ExitStack

    with Emulator("lan", 3) as emu, ExitStack() as stack:
        servers = []
        for host in emu.hosts:
            prefix = ["ip", "netns", "exec", host.netns]
            servers.append(stack.enter_context(sshd.sshd(
                tmp_path / f"ssh{host.rank}", host.address, 2222, prefix=prefix,
                user_key=servers[0].key if servers else None)))
        entries = [{"address": s.address, "ssh": s.destination, "python": sys.executable,
                    "workdir": str(REPO), "ssh_options": s.options} for s in servers]
        (tmp_path / "hosts.yaml").write_text(yaml.safe_dump({"hosts": entries}))
        launcher = [*emu.hosts[0].command([sys.executable, "-m", "mpcbench", "run", *ONCE,
                                           "-f", "mpyc", "-m", "mlp", "-n", "3", "--images", "16",
                                           "--batch", "16", "--hosts",
                                           str(tmp_path / "hosts.yaml"), "-r",
                                           str(tmp_path / "r")])]
        proc = subprocess.run(launcher, capture_output=True, text=True, cwd=REPO, timeout=200)
        assert proc.returncode == 0, proc.stderr
        remote = [p for s in servers for p in sshd.sessions(s)
                  if "mpcbench.parties.worker" in " ".join(p.cmdline())]
        assert not remote
    df = results.load(tmp_path / "r")
    run = df[df["rank"] == -1].set_index("metric")["value"]
    assert run["agreement"] >= 0.99
    assert df[df["rank"] >= 0].groupby("rank")["host"].first().tolist() == [
        s.destination for s in servers]


def _background(res, *args: str) -> psutil.Popen:
    return psutil.Popen([sys.executable, "-m", "mpcbench", "run", *ONCE, "-f", "crypten",
                         "-m", "mlp", "-n", "3", "--images", "10000", "--batch", "8",
                         "--network", "lan",
                         *args, "-r", str(res)], cwd=REPO, stdout=-1, stderr=-1, text=True)


def _computing(res, cli) -> None:
    deadline = time.monotonic() + 120
    while not any("@mpcbench progress" in log.read_text()
                  for log in res.glob("logs/*/party0.log")):
        assert cli.poll() is None, cli.communicate()
        assert time.monotonic() < deadline, "run never started"
        time.sleep(0.2)


def _party(res, rank: int) -> psutil.Process:
    return next(p for p in party_processes(str(res))
                if p.cmdline()[p.cmdline().index("--rank") + 1] == str(rank))


@pytest.mark.crypten
@pytest.mark.parametrize("fault", ["crash", "hang", "cut"])
def test_a_fault_ends_the_emulated_run_within_10_s(tmp_path, fault):
    res = tmp_path / "r"
    cut_after = 12.0  # s after the parties started: they are computing by then
    cli = _background(res, *(["--cut", f"0-1@{cut_after:g}"] if fault == "cut" else []))
    try:
        _computing(res, cli)
        if fault == "crash":
            _party(res, 1).send_signal(signal.SIGKILL)
        elif fault == "hang":
            _party(res, 1).send_signal(signal.SIGSTOP)
        start = time.time()
        if fault == "cut":  # the parties started when the launcher wrote their spec
            (spec,) = res.glob("logs/*/spec.json")
            start = spec.stat().st_mtime + cut_after
            assert time.time() < start, "the run was not computing before the cut"
        _, stderr = cli.communicate(timeout=60)
        took = time.time() - start
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 1 and took < 10, (took, stderr)
    expected = {"crash": "party 1 of 3 (crypten) was killed by SIGKILL",
                "hang": "party 1 of 3 (crypten) is stopped: the kernel reports it stopped",
                "cut": "of the emulated network lost all"}[fault]
    (line,) = unwarned(stderr)  # 3 parties
    assert expected in line
    if fault == "cut":  # both directions are cut: either may be found first
        assert "link 0->1 " in line or "link 1->0 " in line, line
    df = results.load(res)
    assert df["status"].tolist() == ["failed"] and expected in df["error"].iloc[0]
    assert not party_processes(str(res))
