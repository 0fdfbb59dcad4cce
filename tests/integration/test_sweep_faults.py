"""A sweep survives the errors of one cell: each becomes the cell's failed row and the next
cell runs; an error every cell would meet (a full disk) stops it with one line."""

from __future__ import annotations

import shutil

import pytest

from mpcbench import results
from mpcbench.models import WEIGHTS_DIR
from mpcbench.results.claims import CLAIMS_DIR
from tests.conftest import plugin_env, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

#: plaintext, failing where option ``fault`` says; with ``DISK_FULL`` set, every write to
#: the results store fails as on a full disk
_PLUGIN = '''
import errno
import os
from pathlib import Path

from mpcbench import models
from mpcbench.parties.capabilities import ValueRange
from mpcbench.parties.plaintext import PlaintextBackend
from mpcbench.results import store


class FaultyBackend(PlaintextBackend, ValueRange):
    name = "faulty"

    @classmethod
    def weights(cls, case):
        if case.options.get("fault") == "manifest":  # weights in a copy with a damaged manifest
            info = models.weights_info(case.model, case.dataset, Path(os.environ["COPY"]))
            return {f"{case.model}-{case.dataset}": info.sha256}
        return super().weights(case)

    @classmethod
    def value_range(cls, case):  # asked before the parties start
        if case.options.get("fault") == "before":
            raise ZeroDivisionError("unforeseen, before the launch")
        return 2.0**62

    @classmethod
    def cached_metrics(cls, case):  # after the parties ended
        if case.options.get("fault") == "after":
            raise KeyError("unforeseen, after the launch")
        return frozenset()


def _full(df, results_dir):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(results_dir))


if os.environ.get("DISK_FULL"):
    store.append = _full
'''

_SUITE = """
name: faults
frameworks: [faulty]
models: [mlp]
images: 8
timeout_s: 60
options: {fault: [before, manifest, after, none]}
"""


def _env(tmp_path, **extra):
    copy = tmp_path / "weights"
    copy.mkdir()
    shutil.copy(WEIGHTS_DIR / "mlp-mnist.pt", copy)
    (copy / "MANIFEST.json").write_text('{"mlp-mnist.pt": {"sha256": ')  # cut short
    return plugin_env(tmp_path, "faulty_frameworks", {"faulty": _PLUGIN}, COPY=str(copy),
                      **extra)


def test_an_unforeseen_error_fails_its_cell_and_the_sweep_goes_on(tmp_path):
    suite, res = tmp_path / "faults.yaml", tmp_path / "r"
    suite.write_text(_SUITE)
    proc = run_cli("sweep", str(suite), "-r", str(res), env=_env(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    fail = {line.split()[2]: line for line in proc.stderr.splitlines()
            if line.startswith("FAIL")}
    assert fail["fault=before:"].endswith("ZeroDivisionError: unforeseen, before the launch")
    assert fail["fault=after:"].endswith("KeyError: 'unforeseen, after the launch'")
    assert "JSONDecodeError" in fail["fault=manifest:"]
    assert "ok    faulty/mlp(dataset=mnist,n=1,b=8) fault=none  run" in proc.stderr
    assert "3 of 4 cases failed" in proc.stderr

    stored = results.load(res)
    runs = stored.drop_duplicates("run_id").set_index("error")
    assert sorted(runs["status"]) == ["failed", "failed", "failed", "ok"]
    failed = runs[runs["status"].eq("failed")]
    assert all("\n" not in error for error in failed.index)
    # what the cells' identities said is stored with them (the manifest's could not be known)
    assert sorted(failed["config"].fillna("?")) == [
        "?", "fault=after, rewrite=none", "fault=before, rewrite=none"]
    assert failed["case_fingerprint"].isna().sum() == 1
    assert list((res / CLAIMS_DIR).iterdir()) == []


def test_a_full_disk_stops_the_sweep_with_one_line(tmp_path):
    suite, res = tmp_path / "full.yaml", tmp_path / "r"
    suite.write_text(_SUITE.replace("[before, manifest, after, none]", "[none, other, more]"))
    proc = run_cli("sweep", str(suite), "-r", str(res), env=_env(tmp_path, DISK_FULL="1"))
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("suite faults: 3 cases")
    assert len(lines) == 2, lines
    assert lines[1].startswith("error: faulty/mlp(dataset=mnist,n=1,b=8): run ")
    assert "was measured but not stored (OSError: [Errno 28] No space left on device" in lines[1]
    assert lines[1].endswith("sweep stopped, as every next case would fail the same way")
    assert results.run_files(res) == []
    assert len(list((res / "logs").iterdir())) == 1  # only the first cell's parties ran
    assert list((res / CLAIMS_DIR).iterdir()) == []
