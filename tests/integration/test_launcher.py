"""The launcher and CLI with real party processes: runs, failures, timeouts and bad input.

Commands run in this process (:func:`~tests.conftest.invoke`) unless the test is about the
``mpcbench`` process itself (a party killed under it; the script's own one-line refusal)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from mpcbench import results
from mpcbench.cli.results import SLICED, SLICED_CAPTION
from tests.conftest import ONCE, REPO, invoke, party_processes, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_plaintext_run_stores_every_phase_and_metric(tmp_path):
    proc = invoke("run", "-f", "plaintext", "-m", "mlp", "--images", "64", "--batch", "16",
                  "--repeats", "2", "--warmup", "1", "-r", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    df = results.load(tmp_path)
    party = df[df["rank"] == 0]
    assert set(party["phase"]) == {"setup", "share", "infer", "reveal", "total", "process"}
    assert set(party["metric"]) >= set(results.RANK_METRICS)
    assert set(party.loc[party.is_warmup, "repeat"]) == {0}
    run = df[df["rank"] == -1].set_index("metric")["value"]
    assert run["agreement"] == 1.0 and run["max_abs_err"] < 1e-4  # float32 vs float64
    assert run["accuracy"] > 0.9 and run["img_per_s"] > 0
    assert df["git_commit"].notna().all() and (df["cpu_cores"] > 0).all()


@pytest.mark.crypten
def test_timeout_stops_all_parties(tmp_path):
    start = time.monotonic()
    proc = invoke("run", *ONCE, "-f", "crypten", "-m", "cnn", "-n", "2", "--images", "2000",
                  "--batch", "8", "--timeout", "8", "-r", str(tmp_path))
    assert proc.returncode == 1
    line = _one_line_error(proc)
    assert "timed out after 8 s; parties still running: 0, 1 (batches done: party 0: " in line
    assert time.monotonic() - start < 40
    assert party_processes(str(tmp_path)) == []
    assert results.load(tmp_path)["status"].tolist() == ["timeout"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "resnet"], "unknown model 'resnet'"),
        (["-f", "crypten", "-n", "1"], "crypten runs with 2 to"),
        (["-f", "quantum"], "unknown framework 'quantum'"),
        (["-d", "cifar"], "unknown dataset 'cifar'"),
        (["--images", "20000"], "'--images': Input should be less than or equal to 10000"),
        (["--set", "provider"], "--set takes KEY=VALUE"),
        (["--batch", "0"], "'--batch': Input should be greater than or equal to 1"),
        (["--images", "0"], "'--images': Input should be greater than or equal to 1"),
        (["--images", "-8"], "'--images': Input should be greater than or equal to 1"),
        (["--repeats", "0"], "'--repeats': Input should be greater than or equal to 1"),
        (["--warmup", "-1"], "'--warmup': Input should be greater than or equal to 0"),
        (["--timeout", "0"], "'--timeout': Input should be greater than or equal to 1"),
        (["--timeout", "-5"], "'--timeout': Input should be greater than or equal to 1"),
        (["-n", "0"], "'--parties' / '-n': Input should be greater than or equal to 1"),
        (["--threads", "0"], "'--threads': Input should be greater than or equal to 1"),
        (["--hosts", "h1", "--remote", "ssh {host} python"], "--remote template has no {worker}"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tmp_path, args, message):
    store = tmp_path / "results"
    proc = invoke("run", "-f", "plaintext", *args, "-r", str(store))
    assert proc.returncode == 2, proc.stderr
    assert message in _one_line_error(proc)
    assert not store.exists()  # nothing stored, not even a log directory


def test_wrongly_typed_suite_value_gives_one_line_and_exit_2(tmp_path):
    suite = tmp_path / "bad.yaml"
    suite.write_text("frameworks: [plaintext]\nimages: '64'\n")
    proc = invoke("sweep", str(suite), "-r", str(tmp_path / "results"))
    assert proc.returncode == 2, proc.stderr
    assert (f"suite file {suite}: images: input should be a valid integer, got '64'"
            in _one_line_error(proc))
    assert not (tmp_path / "results").exists()


def test_busy_port_is_named(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = invoke("run", "-f", "plaintext", "--port", str(port), "-r", str(tmp_path))
    assert proc.returncode == 2
    assert f"port {port} on 127.0.0.1 is busy" in _one_line_error(proc)


def test_corrupt_results_file_is_named_and_the_others_still_count(tmp_path):
    suite = tmp_path / "one.yaml"
    suite.write_text("frameworks: [plaintext]\nimages: 8\n")
    store = tmp_path / "results"
    assert invoke("sweep", str(suite), "-r", str(store)).returncode == 0
    good = results.run_files(store)[0]
    (store / "0002-broken.parquet").write_bytes(b"garbage")
    proc = invoke("results", "-r", str(store))
    assert proc.returncode == 1
    assert "0002-broken.parquet is corrupt" in _one_line_error(proc)
    assert "1 runs in" in proc.stdout and "plaintext" in proc.stdout  # the rest is shown
    assert results.load(good)["status"].eq("ok").all()
    proc = invoke("sweep", str(suite), "-r", str(store), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "0002-broken.parquet is corrupt" in proc.stderr
    assert "1 cases, 1 already in" in proc.stderr  # the damaged file hides no stored cell


@pytest.mark.crypten
def test_parties_started_through_a_remote_template(tmp_path):
    """The multi-host path: spec on stdin, results on stdout, command from a template in
    which the host is really substituted and the shell's own braces and $ survive."""
    seen = tmp_path / "hosts.txt"
    template = (f'MPCBENCH_TEST_HOST={{host}}; echo "$MPCBENCH_TEST_HOST ${{host}} ${{HOME}} '
                f'$$" >> {seen}; cd {REPO} && {sys.executable} $worker')
    proc = invoke("run", *ONCE, "-f", "crypten", "-m", "mlp", "-n", "2", "--images", "32",
                  "--hosts", "127.0.0.1,localhost", "--remote", template, "-r", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    lines = sorted(line.split() for line in seen.read_text().splitlines())
    assert [line[:3] for line in lines] == [["127.0.0.1", "127.0.0.1", os.environ["HOME"]],
                                            ["localhost", "localhost", os.environ["HOME"]]]
    assert all(line[3].isdigit() for line in lines)  # $$, the shell's pid, left to the shell
    df = results.load(tmp_path)
    run = df[df["rank"] == -1].set_index("metric")["value"]
    assert run["agreement"] >= 0.99
    sent = df[(df.metric == "bytes_sent") & (df.phase == "total") & (df["rank"] >= 0)]
    assert (sent.value > 0).all()


def test_hosts_without_remote_is_refused(tmp_path):
    """(Through the ``mpcbench`` script: its refusal is one line and exit 2 too.)"""
    proc = run_cli("run", "-f", "plaintext", "--hosts", "h1", "-r", str(tmp_path), timeout=60)
    assert proc.returncode == 2
    assert "--hosts needs --remote" in _one_line_error(proc)


def test_parties_outnumbering_the_cores_are_warned_of_before_and_marked_after(tmp_path):
    """One plaintext party with a thread more than this machine has cores (any machine):
    a warning before it runs, its time marked in the table after it and in ``results``."""
    cores = os.cpu_count() or 1
    proc = invoke("run", *ONCE, "-f", "plaintext", "-m", "mlp", "--images", "8", "--threads",
                  str(cores + 1), "-r", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    said = proc.stderr.splitlines()
    warning = (f"warning: 1 party \N{MULTIPLICATION SIGN} {cores + 1} threads on {cores} "
               "cores: they are time-sliced, times include waiting for a core")
    stored = next(i for i, line in enumerate(said) if line.startswith("rows appended to "))
    assert said.count(warning) == 1 and said.index(warning) < stored, said
    for shown in (proc.stdout, invoke("results", "-r", str(tmp_path)).stdout):
        (run,) = [line.split() for line in shown.splitlines()
                  if line.split()[:1] == ["plaintext"]]  # the table's line
        assert run[5] == SLICED, shown  # after the time
        assert SLICED_CAPTION in shown
    assert results.load(tmp_path)["oversubscribed"].all()


@pytest.mark.skipif((os.cpu_count() or 1) >= 16, reason="MPyC runs at most 16 parties")
def test_a_sweep_warns_once_and_marks_each_time_sliced_cell(tmp_path):
    parties = (os.cpu_count() or 1) + 1
    suite = tmp_path / "sliced.yaml"
    suite.write_text(f"frameworks: [mpyc]\nmodels: [mlp]\nparties: [{parties}]\n"
                     "variants: [stock, tuned]\nimages: 2\nbatch_sizes: [2]\nrepeats: 1\n"
                     "warmup: 0\n")
    proc = invoke("sweep", str(suite), "-r", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    said = proc.stderr.splitlines()
    warnings = [line for line in said if line.startswith("warning: ")]
    assert warnings == [f"warning: {parties} parties on {parties - 1} cores: they are "
                        "time-sliced, times include waiting for a core"], said
    cells = [line for line in said if line.startswith("ok ")]
    assert len(cells) == 2 and all(line.endswith("  time-sliced") for line in cells), said
    assert said.index(warnings[0]) < said.index(cells[0])
