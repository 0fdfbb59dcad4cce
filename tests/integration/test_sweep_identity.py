"""``sweep`` skips a cell only when the stored run is the same measurement: a changed
backend default re-runs it, and ``--dry-run`` says what changed. The commands run in this
process (:func:`~tests.conftest.invoke`); the two cells that run start real parties."""

from __future__ import annotations

import pandas as pd
import pytest

from mpcbench import results
from tests.conftest import invoke

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

#: a plaintext backend whose default for option ``knob`` comes from the environment, like
#: a default changed between two versions of a backend
_PLUGIN = '''
import os

from mpcbench.parties.plaintext import PlaintextBackend


class KnobBackend(PlaintextBackend):
    name = "knob"

    @classmethod
    def resolve(cls, case):
        return {"knob": int(os.environ.get("KNOB_DEFAULT", "12")), **case.options}
'''

_SUITE = """
name: knob
description: one plaintext-like cell with a backend default
frameworks: [knob]
models: [mlp]
parties: [1]
images: 16
"""


def test_changed_backend_default_reruns_the_cell_and_dry_run_says_why(tmp_path, plugins):
    suite, res = tmp_path / "knob.yaml", tmp_path / "r"
    suite.write_text(_SUITE)
    plugins("knob_frameworks", {"knob": _PLUGIN})

    def sweep(default, *args):
        proc = invoke("sweep", str(suite), "-r", str(res), *args,
                      env={"KNOB_DEFAULT": str(default)})
        assert proc.returncode == 0, proc.stderr
        return proc

    planned = sweep(12, "--dry-run").stdout
    assert "knob/mlp" in planned and "new" in planned
    sweep(12)
    first = results.load(res)
    assert first["run_id"].nunique() == 1 and set(first["config"]) == {"knob=12, rewrite=none"}

    again = sweep(12, "--dry-run").stdout
    assert again.startswith("skip") and "stored (run" in again
    sweep(12)
    assert results.load(res)["run_id"].nunique() == 1  # same identity: skipped

    changed = sweep(10, "--dry-run").stdout
    assert changed.startswith("run ") and "knob 12 → 10" in changed
    sweep(10)
    stored = results.load(res)
    assert stored["run_id"].nunique() == 2 and set(stored["config"]) == {
        "knob=12, rewrite=none", "knob=10, rewrite=none"}
    # the two configurations are two cells of the summary, each named with its setting
    out = tmp_path / "report"
    built = invoke("report", "-r", str(res), "--out", str(out), env={"KNOB_DEFAULT": "10"})
    assert built.returncode == 0, built.stderr
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(summary["settings"]) == ["knob=10", "knob=12"]
