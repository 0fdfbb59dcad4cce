"""The layout's promises, checked on real processes: a framework added outside the source
tree (a plugin package) runs the conformance battery as it is and shows up in ``mpcbench
results`` and the report with the kind and versions it declares. (That a party imports
only its own framework is a case of the battery, for every framework.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mpcbench import results
from mpcbench.parties import PLUGINS_ENV
from tests.conftest import ONCE, REPO, invoke

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
#: the conformance battery
BATTERY = Path(__file__).with_name("test_conformance.py")


@pytest.mark.timeout(300)
def test_a_plugin_framework_runs_the_conformance_battery():
    """``tests/plugins/toympc.py``, a framework outside mpcbench, registered through
    ``MPCBENCH_PLUGINS``: the battery draws it from the registry and every case of it
    passes, no test edited (those of a capability it lacks, share files, and of more
    parties than it declares are not drawn)."""
    env = {**os.environ, PLUGINS_ENV: "tests.plugins", "PYTHONPATH": str(REPO)}
    env.pop("PYTEST_ADDOPTS", None)  # its report is read line by line below
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "-k", "toympc",
         str(BATTERY)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stdout[-4000:]
    outcomes = [line.split()[0] for line in proc.stdout.splitlines() if "::test_" in line]
    ran = {line.split("::")[1].split("[")[0] for line in proc.stdout.splitlines()
           if line.startswith("PASSED ") and "[toympc" in line}
    assert set(outcomes) == {"PASSED"}
    assert ran == set(re.findall(r"^def (test_\w+)", BATTERY.read_text(), re.M)) - {
        "test_saved_shares_reload_in_new_parties_to_the_same_logits",
        "test_sixteen_parties_complete_and_agree_with_plaintext"}


_PLUGIN = '''
"""A framework outside mpcbench: plain torch at every party, declaring itself MPC."""
from mpcbench.parties.base import Kind
from mpcbench.parties.plaintext import PlaintextBackend


class ToyBackend(PlaintextBackend):
    name = "toy"
    kind = Kind.MPC
    min_parties = 2
    max_parties = 3

    @classmethod
    def versions(cls):
        return {"toylib": "9.9.1"}
'''


def test_a_plugin_framework_appears_in_results_and_report(tmp_path, plugins):
    plugins("toy_frameworks", {"toy": _PLUGIN})
    res = tmp_path / "r"
    proc = invoke("run", *ONCE, "-f", "toy", "-m", "mlp", "-n", "2", "--images", "16",
                  "-r", str(res))
    assert proc.returncode == 0, proc.stderr
    rows = results.load(res)
    assert set(rows["kind"]) == {"mpc"}
    assert {json.loads(v)["toylib"] for v in rows["framework_versions"]} == {"9.9.1"}

    listed = invoke("results", "-r", str(res), "--format", "csv")
    assert listed.returncode == 0, listed.stderr
    table = pd.read_csv(pd.io.common.StringIO(listed.stdout))
    assert table[["framework", "kind", "versions"]].values.tolist() == [
        ["toy", "MPC", "toylib 9.9.1"]]

    out = tmp_path / "report"
    built = invoke("report", "-r", str(res), "--out", str(out))
    assert built.returncode == 0, built.stderr
    summary = pd.read_csv(out / "summary.csv")
    assert summary[["framework", "kind"]].values.tolist() == [["toy", "MPC"]]
    coverage = pd.read_csv(out / "coverage.csv").set_index("framework")
    assert coverage.loc["toy", ["kind", "status"]].tolist() == ["MPC", "measured"]
    assert coverage.loc["mpyc", "status"] == "not measured"  # the registry's, not measured
    versions = pd.read_csv(out / "versions.csv").set_index("framework")
    assert versions.loc["toy", "framework_versions"] == "toylib 9.9.1"
    page = (out / "index.html").read_text()
    assert "toylib 9.9.1" in page

