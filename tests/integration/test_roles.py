"""Roles with real party processes: one output party learns every logit, and invalid roles
are refused before anything launches. (A separate model owner and data owners each
learning only their own images' logits is a case of the conformance battery,
``tests/integration/test_conformance.py``, for every backend that takes roles.)"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from mpcbench import results
from mpcbench.case import Case
from mpcbench.launch import record, runner
from mpcbench.roles import Roles
from tests.conftest import invoke

pytestmark = [pytest.mark.integration]


@pytest.mark.mpyc
@pytest.mark.timeout(120)
def test_one_output_party_learns_every_logit_and_the_other_owner_none(tmp_path, party_results):
    case = Case("mpyc", "mlp", parties=3, images=6, batch=3, roles=Roles(1, (0, 2), "2"))
    runner.run_case(case, tmp_path, timeout_s=100)
    (outputs,) = party_results
    assert [out["logit_images"] for out in outputs] == [[], [], list(range(6))]
    df = results.load(tmp_path)
    assert df[df["rank"] >= 0].groupby("rank")["role"].first().tolist() == [
        "data_owner", "model_owner", "data_owner+output"]
    assert df[df["rank"] == -1].set_index("metric")["value"]["agreement"] == 1.0


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model-owner", "3"], "model owner 3 is not a party: ranks run from 0 to 2"),
        (["--data-owners", "0,5"], "data owner 5 is not a party: ranks run from 0 to 2"),
        (["--data-owners", ""], "a run needs at least one data owner"),
        (["--data-owners", "0,2,0"], "data owners list rank 0 twice"),
        (["--data-owners", "0-1,1"], "data owners list rank 1 twice"),
        (["--data-owners", "2-0"], "data owners are ranks and ranges like 0,2-3"),
        (["--data-owners", "0,2", "--output", "1"],
         "output party 1 owns no images, so it has nothing to learn"),
        (["--output", "everyone"], "output must be 'owners' or a rank (0, 1, ...), got"),
        (["--output", "3"], "output party 3 is not a party"),
        (["--data-owners", "0-2", "--images", "4", "--batch", "2"],
         "a batch of 2 images cannot give each of the 3 data owners an image"),
        (["-f", "plaintext", "-n", "1", "--data-owners", "1"],
         "data owner 1 is not a party: ranks run from 0 to 0"),
        (["-f", "complex", "-n", "2", "--model-owner", "1"],
         "complex runs with party 0 as model owner, data owner and output party only"),
    ],
)
def test_invalid_roles_give_one_line_and_exit_2(tmp_path, args, message):
    store = tmp_path / "results"
    proc = invoke("run", "-f", "mpyc", "-m", "mlp", "-n", "3", "--images", "6", *args,
                  "-r", str(store))
    assert proc.returncode == 2, proc.stderr
    assert message in _one_line_error(proc)
    assert not store.exists()  # nothing stored, not even a log directory


def test_logits_are_reassembled_in_image_order():
    outputs = [{"logit_images": [0, 1, 3], "logits": [[0.0], [1.0], [3.0]]},
               {"logit_images": [], "logits": None},
               {"logit_images": [2], "logits": [[2.0]]}]
    np.testing.assert_array_equal(record.assemble_logits(outputs, 4), [[0], [1], [2], [3]])
    assert record.assemble_logits(outputs, 5) is None  # image 4 reached no party
