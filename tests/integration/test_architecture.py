"""The layout's promises, checked on real processes: a party imports only its own
framework, and a framework added outside the source tree (a plugin package) shows up in
``mpcbench results`` and the report with the kind and versions it declares."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest

from mpcbench import results
from tests.conftest import REPO, invoke

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

#: runs the party program like ``python -m``, then writes the modules it had imported (as
#: it ends: a party that has reported ends with ``os._exit``, past any ``atexit``)
_WRAPPER = """
import os, runpy, sys
out = sys.argv[1]
end = os._exit
os._exit = lambda code: (open(out, "w").write("\\n".join(sorted(sys.modules))), end(code))
sys.argv = [sys.argv[3], *sys.argv[4:]]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""

FOREIGN = {
    "crypten": ("mpyc", "mpcbench.parties.mpyc", "mpcbench.parties.plaintext"),
    "mpyc": ("crypten", "mpcbench.parties.crypten", "mpcbench.parties.plaintext"),
}
ALWAYS_FOREIGN = ("mpcbench.baselines", "mpcbench.report", "mpcbench.results",
                  "mpcbench.launch", "mpcbench.cli", "pandas", "seaborn")


@pytest.mark.parametrize("framework", ["crypten", "mpyc"])
def test_a_party_imports_only_its_own_framework(tmp_path, framework):
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(_WRAPPER)
    template = (f"cd {REPO} && {sys.executable} {wrapper} {tmp_path}/modules-{{host}}-$$ "
                f"{{worker}}")
    proc = invoke("run", "-f", framework, "-m", "mlp", "-n", "3", "--images", "8",
                  "--batch", "8", "--hosts", "127.0.0.1", "--remote", template,
                  "-r", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    dumps = sorted(tmp_path.glob("modules-*"))
    assert len(dumps) == 3
    for dump in dumps:
        loaded = set(dump.read_text().split())
        assert f"mpcbench.parties.{framework}" in loaded and framework in loaded
        for name in (*FOREIGN[framework], *ALWAYS_FOREIGN):
            assert name not in loaded, f"a {framework} party imported {name}"


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
    proc = invoke("run", "-f", "toy", "-m", "mlp", "-n", "2", "--images", "16", "-r", str(res))
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

