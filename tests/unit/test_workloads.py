"""The workload of a case: one object per kind of run, found once by the launcher and the
party program; case defaults; the ``workload`` and ``dtype`` columns and their migration;
and no module outside the workloads asking what kind of run a case is."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

import mpcbench
from mpcbench import parties
from mpcbench.case import MICRO, Case, Inference, Micro, Training
from mpcbench.errors import InputError
from mpcbench.launch import catalog, defaults, workloads
from mpcbench.models import ModelError
from mpcbench.parties import workloads as party_workloads
from mpcbench.parties.context import PartyContext, read_spec, spec_json
from mpcbench.results import runs, store, summary
from tests.unit.report_data import _micro, _run

DATA = Path(__file__).parents[1] / "data"
PACKAGE = Path(mpcbench.__file__).parent

#: what asks "what kind of run is this?" (the answer is the workload's to give)
ASKING = {
    "the micro-benchmark's model name": r"\bMICRO\b",
    "the type of a workload": r"isinstance\([^)]*\b(Inference|Micro|Training)\b",
    "a workload's kind compared": r"workload\.kind\s*(==|!=|in\b|not\s+in\b)"
                                  r"|(==|!=)\s*[\w.]*workload\.kind",
    "a workload's own fields": r"\.workload\.(shares|steps|lr|seed|train_images)\b",
    "the case fields the workload replaced": r"\bcase\.(training|shares)\b"
                                             r"|\btraining is (not )?None",
}
#: the modules that answer it: the case (which defines the workloads) and the workloads
ANSWERING = ("case.py", "launch/workloads/", "parties/workloads/")


def test_no_module_but_the_workloads_asks_what_kind_of_run_a_case_is():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        if where.startswith(ANSWERING):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            found += [f"{where}:{number}: {what}: {line.strip()}"
                      for what, pattern in ASKING.items() if re.search(pattern, line)]
    assert not found, "\n".join(found)


def test_a_case_carries_exactly_one_workload():
    assert Case("crypten", "mlp").workload == Inference()
    assert Case("crypten", MICRO).workload == Micro()  # the model name says it
    assert Case("crypten", "mlp", workload=Training(3)).workload == Training(3)
    for other in (Training(3), Inference("shares")):
        with pytest.raises(InputError, match="sharing micro-benchmark"):
            Case("crypten", MICRO, workload=other)


@pytest.mark.parametrize("workload", [Inference(), Inference("some/set"), Training(5, 0.1)])
def test_every_workload_survives_the_run_spec(workload):
    case = Case("crypten", "mlp", parties=3, workload=workload)
    ctx = PartyContext(rank=-1, parties=3, addresses=("a:1", "b:2", "c:3"), case=case)
    assert read_spec(spec_json(ctx), 2).case == case
    micro = Case("crypten", MICRO, images=10, batch=10, dtype="float64")
    ctx = PartyContext(rank=-1, parties=2, addresses=("a:1", "b:2"), case=micro)
    assert read_spec(spec_json(ctx), 1).case == micro


@pytest.mark.parametrize("case", [Case("crypten", "mlp"), Case("crypten", MICRO),
                                  Case("crypten", "mlp", workload=Training(3))])
def test_launcher_and_party_find_the_same_workload_once(case):
    run = workloads.of(case, parties.get(case.framework))
    party = party_workloads.of(case)
    assert run.kind == party.kind == case.workload.kind
    assert run.case is case


def test_case_defaults_are_the_workloads():
    # inference: the model's batch, at most the images; a baseline runs its own model
    assert defaults.case("crypten", "cnn").batch == catalog.default_batch("cnn") < 64
    assert defaults.case("crypten", "mlp", images=8).batch == 8
    assert defaults.case("crypten", "mlp", batch=16).batch == 16
    assert defaults.case("plaintext").parties == 1
    feedback = defaults.case("feedback")
    assert (feedback.model, feedback.parties) == ("cnnf", 1)
    # the micro-benchmark shares every image at once
    micro = defaults.case("crypten", MICRO, images=60000)
    assert (micro.workload, micro.batch) == (Micro(), 60000)
    # training: the training batch, not capped at the test images
    trained = defaults.case("crypten", "mlp", images=16, workload=Training(3))
    assert trained.batch == 128
    with pytest.raises(ModelError, match="unknown model 'resnet'"):
        defaults.case("crypten", "resnet", batch=8)


def test_checks_belong_to_the_workload():
    from mpcbench.launch.checks import check, validate
    from mpcbench.parties.base import Unsupported

    with pytest.raises(Unsupported, match="plaintext cannot train mlp"):
        validate(Case("plaintext", "mlp", parties=1, workload=Training(3)),
                 parties.get("plaintext"))
    with pytest.raises(Unsupported, match="one data owner"):
        validate(Case("crypten", "mlp", parties=3, roles=_two_owners(),
                      workload=Training(3)), parties.get("crypten"))
    with pytest.raises(Unsupported, match="no model to save or load as shares"):
        check(Case("crypten", MICRO, images=8, batch=8), save_shares=Path("nowhere"))
    with pytest.raises(Unsupported, match="images, batch and repeats"):
        check(Case("crypten", "mlp", repeats=0))


def _two_owners():
    from mpcbench.roles import Roles

    return Roles.parse(0, "0,1", "owners")


def test_new_rows_carry_workload_and_dtype(tmp_path):
    rows = pd.concat([_run(1, "crypten", "mlp", 2), _micro(2, "crypten", "float64", 1.0)])
    for _, run in rows.groupby("run_id"):
        store.append(run, tmp_path)
    back = store.load(tmp_path)
    assert back.groupby("run_id")[["workload", "dtype"]].first().to_dict("index") == {
        "run001": {"workload": "inference", "dtype": "float32"},
        "run002": {"workload": "micro", "dtype": "float64"}}
    per_run = runs.runs(back).set_index("run_id")
    assert per_run.loc["run002", "dtype"] == "float64" and per_run.loc["run001", "dtype"] == ""


def test_version_5_files_get_workload_and_dtype_from_model_case_id_and_identity(tmp_path):
    inference = _run(1, "crypten", "mlp", 2).assign(
        identity=json.dumps({"case": {"dtype": "float64"}}))
    micro = _micro(2, "crypten", "float64", 1.0)
    trained = _run(3, "crypten", "mlp", 2,
                   case_id="crypten/mlp(dataset=mnist,n=2,b=16,steps=4)")
    for run in (inference, micro, trained):
        path = store.append(run, tmp_path)
        old = store.read_file(path).drop(columns=["workload", "dtype"])
        old.assign(schema_version=5).to_parquet(path, index=False)
    back = store.load(tmp_path).groupby("run_id")[["workload", "dtype"]].first()
    assert back.to_dict("index") == {
        "run001": {"workload": "inference", "dtype": "float64"},  # from the identity
        "run002": {"workload": "micro", "dtype": "float64"},  # from the case id
        "run003": {"workload": "training", "dtype": "float32"}}  # the default


def test_stored_runs_of_older_schemas_still_load_with_their_workload():
    real, trained = store.load(DATA / "results-real"), store.load(DATA / "results-training")
    assert set(real["workload"]) == {"inference"} and set(trained["workload"]) == {"training"}
    assert set(real["dtype"]) == set(trained["dtype"]) == {"float32"}
    assert summary.is_training(trained).all() and not summary.is_training(real).any()
