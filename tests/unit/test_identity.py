"""Run identity: what the fingerprint covers, why sweep re-runs a cell, and cells that are
never aggregated across configurations."""

from __future__ import annotations

import pandas as pd
import pytest

from mpcbench.case import Case, Inference, Training
from mpcbench.launch import record
from mpcbench.results import identity as ident
from mpcbench.results import runs, store, summary
from mpcbench.results.schema import conform
from mpcbench.roles import Roles
from tests.unit.report_data import _run


def test_identity_covers_resolved_config_weights_code_and_versions():
    case = Case("mpyc", "cnn", parties=3)
    found = record.identity(case)
    assert found["config"]["weight_frac_bits"] == 10  # a default, not set in the case
    assert set(found["weights"]) == {"cnn-mnist"}
    assert found["mpcbench"]["commit"] and found["frameworks"]["mpyc"]
    # an option set to its default is the same run; any other value is not
    same = Case("mpyc", "cnn", parties=3, options={"weight_frac_bits": 10})
    other = Case("mpyc", "cnn", parties=3, options={"weight_frac_bits": 12})
    assert record.fingerprint(same) == record.fingerprint(case) != record.fingerprint(other)
    assert record.fingerprint(Case("mpyc", "cnn", parties=3, repeats=5)) == \
        record.fingerprint(case)
    code = {"version": "0.1.0", "commit": "26edd33" + "0" * 33}
    assert record.fingerprint(case, code) != record.fingerprint(case)


def test_baseline_identity_names_every_weights_file():
    found = record.identity(Case("complex", "complex", parties=2))
    assert set(found["weights"]) == {"complex-mnist", "cnn-mnist"}
    found = record.identity(Case("feedback", "cnnf", parties=1))
    assert set(found["weights"]) == {"cnnf-mnist", "cnn-mnist"}


def _identity(**config):
    return {"case": {"framework": "mpyc", "model": "cnn"}, "config": config,
            "weights": {"cnn-mnist": "a" * 64},
            "mpcbench": {"version": "0.1.0", "commit": "26edd33" + "0" * 33},
            "frameworks": {"mpyc": "0.11"}}


def test_changes_name_each_setting_with_old_and_new_value():
    old = _identity(weight_frac_bits=12, variant="stock")
    new = _identity(weight_frac_bits=10, variant="stock")
    new["mpcbench"]["commit"] = "e608ef3" + "1" * 33
    new["frameworks"]["mpyc"] = "0.12"
    assert ident.changes(old, new) == [
        "weight_frac_bits 12 → 10", "mpcbench commit 26edd33 → e608ef3", "mpyc 0.11 → 0.12"]
    assert ident.explain(new, [old]) == \
        "weight_frac_bits 12 → 10; mpcbench commit 26edd33 → e608ef3; mpyc 0.11 → 0.12"
    other_case = {**new, "case": {"framework": "mpyc", "model": "mlp"}}
    assert ident.explain(other_case, [old]) == "new"
    # a stored run that is another planned cell of the suite is not what this one replaces
    tuned, stock = _identity(variant="tuned"), _identity(variant="stock")
    new_stock = {**stock, "frameworks": {"mpyc": "0.12"}}
    assert ident.explain(new_stock, [stock, tuned], {ident.fingerprint(tuned)}) == \
        "mpyc 0.11 → 0.12"
    assert ident.changes({**old, "config": None}, new)[0] == "configuration not recorded"


def test_system_names_carry_the_variant():
    assert ident.system_name("crypten", "provider=TFP, variant=stock") == "crypten"
    assert ident.system_name("crypten", "provider=TFP, variant=tuned") == "crypten+tuned"
    assert ident.system_name("mpyc", "tuned=true, bit_length=14") == "mpyc+tuned"
    assert ident.system_name("mpyc", None) == "mpyc"
    assert ident.config_text({"b": True, "a": 7, "p": "TFP"}) == "a=7, b=true, p=TFP"


def _pair(config_a: str, config_b: str) -> pd.DataFrame:
    a = _run(1, "crypten", "mlp", 2).assign(config=config_a)
    b = _run(2, "crypten", "mlp", 2, speed=2.0).assign(config=config_b)
    return conform(pd.concat([a, b], ignore_index=True))


def test_runs_differing_only_in_variant_are_two_summary_rows():
    table = summary.summary(_pair("provider=TFP, variant=stock", "provider=TFP, variant=tuned"))
    assert sorted(table["system"]) == ["crypten", "crypten+tuned"]
    assert (table["runs"] == 1).all()


def test_runs_differing_in_any_option_are_two_rows_with_the_setting_shown():
    df = _pair("knob=1, provider=TFP", "knob=2, provider=TFP")
    table = summary.summary(df)
    assert sorted(table["settings"]) == ["knob=1", "knob=2"]
    assert sorted(table["system"]) == ["crypten {knob=1}", "crypten {knob=2}"]
    per_run = runs.runs(df)
    assert sorted(per_run["config"]) == ["knob=1, provider=TFP", "knob=2, provider=TFP"]
    phases = summary.phases(df)
    assert set(phases["system"]) == {"crypten {knob=1}", "crypten {knob=2}"}


def test_version_2_files_get_an_identity_without_configuration(tmp_path):
    run = _run(1, "crypten", "mlp", 2).assign(weights_sha256="b" * 64,
                                               framework_versions='{"crypten": "0.4.1"}')
    path = store.append(run, tmp_path)
    old = store.read_file(path).drop(columns=["identity", "config", "oversubscribed",
                                              "source"]).assign(schema_version=2)
    old.to_parquet(path, index=False)
    back = store.read_file(path)
    found = ident.loads(back["identity"].iloc[0])
    assert found["config"] is None and found["weights"] == {"mlp-mnist": "b" * 64}
    assert found["case"]["batch"] == 16 and found["case"]["dtype"] == "float32"
    assert found["frameworks"] == {"crypten": "0.4.1"}
    assert set(back["source"].dropna()) == {"measured"}
    assert not back["oversubscribed"].any()  # 2 parties x 1 thread on 2 cores


def test_compare_matches_cells_by_configuration_and_names_the_variant():
    from mpcbench.report.compare import compare

    a = _pair("provider=TFP, variant=stock", "provider=TFP, variant=tuned")
    b = a[a["config"] == "provider=TFP, variant=tuned"]
    changes = compare(a, b, metrics=["s_per_img"])
    by_cell = changes.set_index("cell")["note"]
    stock = [c for c in by_cell.index if c.startswith("crypten/")]
    tuned = [c for c in by_cell.index if c.startswith("crypten+tuned/")]
    assert len(stock) == len(tuned) == 1
    assert by_cell[stock[0]] == "only in A" and by_cell[tuned[0]] == ""


def test_compare_across_commits_is_comparable_but_not_across_weights():
    from mpcbench.report.compare import INCOMPARABLE, compare

    def side(seq, commit, weights, speed):
        found = {**_identity(variant="stock"), "mpcbench": {"version": "0.1.0",
                                                            "commit": commit}}
        found["weights"] = {"mlp-mnist": weights}
        run = _run(seq, "crypten", "mlp", 2, speed=speed).assign(
            config="provider=TFP, variant=stock", identity=ident.dumps(found),
            case_fingerprint=ident.fingerprint(found))
        return conform(run)

    a = side(1, "a" * 40, "w1", 1.0)
    later = compare(a, side(2, "b" * 40, "w1", 3.0), metrics=["s_per_img"])
    assert set(later["mark"]) == {"+"}  # slower at a new commit: a regression, comparable
    retrained = compare(a, side(2, "a" * 40, "w2", 3.0), metrics=["s_per_img"])
    assert set(retrained["mark"]) == {INCOMPARABLE}


#: code identity of the pinned fingerprints below
_CODE = {"version": "0.1.0", "commit": "c" * 40}
#: a share set's manifest (only its bytes enter the identity)
_MANIFEST = '{"format": 1, "x": 1}\n'
#: cases of every workload with the case id and the fingerprint (of the identity with
#: :data:`_CODE` and without framework versions, the environment's) they were stored with
#: before the workload was an object of the case: stored runs are matched by them, so a
#: sweep still skips its cells. A retrained weights file changes the inference ones, and
#: so did their configuration's ``rewrite=none`` (the network as imported, no longer the
#: pool-before-ReLU order by default: a different computation, a different identity).
_STORED = {
    "crypten-mlp": (dict(framework="crypten", model="mlp"),
                    "crypten/mlp(dataset=mnist,n=2,b=64)", "ae384491282afc9a"),
    "crypten-cnn-float64": (dict(framework="crypten", model="cnn", dtype="float64",
                                 batch=8, images=8),
                            "crypten/cnn(dataset=mnist,n=2,b=8)", "c8d708c512e210a2"),
    "mpyc-tuned": (dict(framework="mpyc", model="cnn", parties=3,
                        options={"variant": "tuned"}),
                   "mpyc/cnn(dataset=mnist,n=3,b=64)", "ec60d35e69667d4c"),
    "plaintext": (dict(framework="plaintext", model="mlp", parties=1, images=8, batch=8),
                  "plaintext/mlp(dataset=mnist,n=1,b=8)", "bca987cdf02f35c1"),
    "feedback": (dict(framework="feedback", model="cnnf", parties=1),
                 "feedback/cnnf(dataset=mnist,n=1,b=64)", "68abf79d64ea3b09"),
    "roles": (dict(framework="crypten", model="mlp", parties=3,
                   roles=Roles.parse(1, "0,2", "owners")),
              "crypten/mlp(dataset=mnist,n=3,b=64,mo=1,do=0+2,out=owners)", "fa1032712f678650"),
    "wan": (dict(framework="crypten", model="mlp", network="wan"),
            "crypten/mlp(dataset=mnist,n=2,b=64,net=wan)", "10a882c9c2798ff5"),
    "micro": (dict(framework="crypten", model="micro", images=60000, batch=60000,
                   dtype="float64"),
              "crypten/micro(dataset=mnist,n=2,b=60000,dtype=float64)", "1028cc74d130cc0d"),
    "micro-plaintext": (dict(framework="plaintext", model="micro", parties=1, images=60000,
                             batch=60000),
                        "plaintext/micro(dataset=mnist,n=1,b=60000,dtype=float32)",
                        "c21390d04efd460c"),
    "training": (dict(framework="crypten", model="mlp", parties=3, images=16, batch=32,
                      workload=Training(5, 0.1, 2, 640)),
                 "crypten/mlp(dataset=mnist,n=3,b=32,steps=5)", "77d275524e4eb8ae"),
    # from a share set (in the test's directory) whose manifest is :data:`_MANIFEST`
    "shares": (dict(framework="crypten", model="mlp"),
               "crypten/mlp(dataset=mnist,n=2,b=64)", "be97917f3a0703b6"),
}


@pytest.mark.parametrize("name", sorted(_STORED))
def test_existing_cases_keep_their_case_id_and_fingerprint(tmp_path, name):
    fields, case_id, fingerprint = _STORED[name]
    if name == "shares":
        (tmp_path / "manifest.json").write_text(_MANIFEST)
        fields = {**fields, "workload": Inference(str(tmp_path))}
    case = Case(**fields)
    assert case.case_id == case_id
    found = record.identity(case, _CODE)
    assert ident.fingerprint({**found, "frameworks": {}}) == fingerprint, found
