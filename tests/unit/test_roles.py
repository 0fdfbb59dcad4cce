"""Roles without processes: the split of a batch among data owners, who learns which
logits, validation, identity, suites, the version-3 migration and the report's tables."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mpcbench import roles
from mpcbench.case import Case
from mpcbench.launch import record
from mpcbench.launch.suite import SuiteError, expand, load_suite
from mpcbench.parties.crypten.backend import CryptenBackend
from mpcbench.parties.mpyc.backend import MpycBackend
from mpcbench.report import roles as report_roles
from mpcbench.results import store, summary
from mpcbench.roles import RoleError, Roles, Slice
from tests.unit.report_data import _run


def test_a_batch_is_split_contiguously_the_first_owners_holding_one_more():
    assert roles.split(0, 7, (1, 2, 5)) == [Slice(1, 0, 3), Slice(2, 3, 5), Slice(5, 5, 7)]
    assert roles.split(10, 16, (0, 2)) == [Slice(0, 10, 13), Slice(2, 13, 16)]
    assert roles.split(0, 4, (3,)) == [Slice(3, 0, 4)]
    # the six owners of the 7-party layout, a batch of 64: 11, 11, 11, 11, 10, 10
    sizes = [s.hi - s.lo for s in roles.split(0, 64, (1, 2, 3, 4, 5, 6))]
    assert sizes == [11, 11, 11, 11, 10, 10]


def test_owners_learn_their_own_slices_and_one_output_party_the_whole_batch():
    two = Roles(1, (0, 2))
    assert roles.outputs(two, 3, 6) == [Slice(0, 3, 5), Slice(2, 5, 6)]
    assert roles.outputs(Roles(1, (0, 2), "2"), 3, 6) == [Slice(2, 3, 6)]
    assert two.receivers == (0, 2) and Roles(1, (0, 2), "2").receivers == (2,)
    assert roles.owned(two, 0, 6, 3) == [0, 1, 3, 4] and roles.owned(two, 2, 6, 3) == [2, 5]
    assert roles.owned(two, 1, 6, 3) == []


def test_ranks_parse_sorted_and_the_default_normalises():
    assert roles.parse_ranks("3,0-1") == (0, 1, 3) and roles.parse_ranks(2) == (2,)
    assert Roles.parse("1", "2,0", "owners") == Roles(1, (0, 2))
    # one data owner that learns every logit is the same run as "owners"
    assert Roles.parse(0, "0", "0") == Roles() and Roles().is_default
    assert Roles(**json.loads(json.dumps(Roles(1, (0, 2)).record()))) == Roles(1, (0, 2))
    for bad in ("", "0,,1", "a", "3-1", "1,1"):
        with pytest.raises(RoleError):
            roles.parse_ranks(bad)


def test_role_column_values():
    held = Roles(1, (0, 2))
    assert [roles.role_of(held, r) for r in range(4)] == [
        "data_owner+output", "model_owner", "data_owner+output", "compute"]
    assert roles.role_of(Roles(), 0) == "data_owner+model_owner+output"
    assert roles.role_of(Roles(0, (0, 1), "1"), 0) == "data_owner+model_owner"


@pytest.mark.parametrize(("held", "parties", "images", "batch", "message"), [
    (Roles(3), 3, 6, 6, "model owner 3 is not a party"),
    (Roles(0, (0, 4)), 3, 6, 6, "data owner 4 is not a party"),
    (Roles(0, ()), 3, 6, 6, "at least one data owner"),
    (Roles(0, (0, 2), "1"), 3, 6, 6, "output party 1 owns no images"),
    (Roles(0, (0, 2), "5"), 3, 6, 6, "output party 5 is not a party"),
    # batches of 4, 4 and 2: the last cannot give each of three owners an image
    (Roles(0, (0, 1, 2)), 3, 10, 4, "a batch of 2 images cannot give each of the 3"),
])
def test_invalid_roles_are_named(held, parties, images, batch, message):
    with pytest.raises(RoleError, match=message):
        roles.check(held, parties, images, batch)


def test_backends_validate_roles_before_anything_launches():
    ok = Case("mpyc", "mlp", parties=3, images=6, batch=3, roles=Roles(1, (0, 2)))
    MpycBackend.validate(ok)
    CryptenBackend.validate(ok)
    with pytest.raises(RoleError, match="data owner 3 is not a party"):
        CryptenBackend.validate(Case("crypten", "mlp", parties=3, roles=Roles(0, (0, 3))))


def test_roles_change_case_id_and_fingerprint_only_when_not_default():
    plain = Case("mpyc", "mlp", parties=3)
    same = Case("mpyc", "mlp", parties=3, roles=Roles.parse(0, "0", "0"))
    moved = Case("mpyc", "mlp", parties=3, roles=Roles(1, (0, 2)))
    assert same.case_id == plain.case_id == "mpyc/mlp(dataset=mnist,n=3,b=64)"
    assert moved.case_id == "mpyc/mlp(dataset=mnist,n=3,b=64,mo=1,do=0+2,out=owners)"
    assert "roles" not in record.identity(plain)["case"]
    assert record.identity(moved)["case"]["roles"] == {
        "model_owner": 1, "data_owners": [0, 2], "output": "owners"}
    assert record.fingerprint(same) == record.fingerprint(plain) != record.fingerprint(moved)


def test_crypten_security_says_whether_its_dealer_owns_inputs():
    record = CryptenBackend.security(Case("crypten", "mlp", parties=3))
    assert record["dealer_rank"] == 0 and record["dealer_owns"] == ["data_owner", "model_owner"]
    apart = CryptenBackend.security(Case("crypten", "mlp", parties=3, roles=Roles(1, (2,))))
    assert apart["dealer_owns"] == [] and apart["randomness_source"].startswith("TFP")
    mpyc = MpycBackend.security(Case("mpyc", "mlp", parties=3))
    assert mpyc["dealer_rank"] is None and mpyc["dealer_owns"] == []
    assert mpyc["outputs"] == "each data owner learns the logits of its own images only"
    one = MpycBackend.security(Case("mpyc", "mlp", parties=3, roles=Roles(1, (0, 2), "2")))
    assert one["outputs"] == "party 2 learns every logit (also of the other data owners' images)"


def _suite(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return load_suite(path)


def test_suite_roles_fields_and_overrides(tmp_path):
    suite = _suite(tmp_path, """
frameworks: [crypten, mpyc]
parties: [7]
images: 12
model_owner: 0
data_owners: 1-6
overrides:
  mpyc: {data_owners: [1, 2], output: 2}
""")
    cases = [p.case for p in expand(suite)]
    assert [c.roles for c in cases] == [Roles(0, (1, 2, 3, 4, 5, 6)), Roles(0, (1, 2), "2")]
    with pytest.raises(SuiteError, match=r"s\.yaml: data owners list rank 1 twice"):
        _suite(tmp_path, "frameworks: [mpyc]\ndata_owners: 1,1\n")
    with pytest.raises(SuiteError, match="override mpyc: output must be 'owners' or a rank"):
        _suite(tmp_path, "frameworks: [mpyc]\noverrides:\n  mpyc: {output: all}\n")


def test_roles7_suite_expands_to_one_model_owner_and_six_data_owners():
    cases = [p.case for p in expand(load_suite("benchmarks/roles7.yaml"))]
    assert {c.framework for c in cases} == {"crypten", "mpyc"}
    assert {c.roles for c in cases} == {Roles(0, (1, 2, 3, 4, 5, 6))}
    assert {c.parties for c in cases} == {7}
    assert {c.options["provider"] for c in cases if c.framework == "crypten"} == {"TFP", "TTP"}


def test_version_3_files_get_roles_from_the_old_owner_columns(tmp_path):
    run = _run(1, "crypten", "mlp", 2)
    path = store.append(run, tmp_path)
    old = store.read_file(path).drop(columns=["role", "data_owners", "output"])
    old = old.assign(schema_version=3, data_owner=0, model_owner=1, output_party=0)
    old.to_parquet(path, index=False)
    back = store.read_file(path)
    by_rank = back.groupby("rank", dropna=False)["role"].first()
    assert by_rank[0] == "data_owner+output" and by_rank[1] == "model_owner"
    assert back.loc[back["rank"] == -1, "role"].isna().all()
    assert set(back["data_owners"]) == {"0"} and set(back["output"]) == {"owners"}
    assert set(back["model_owner"]) == {1}


def _with_roles(frame: pd.DataFrame, held: Roles, dealer_owns: list[str]) -> pd.DataFrame:
    config = json.dumps({"security": {"dealer_owns": dealer_owns}})
    return frame.assign(
        model_owner=held.model_owner, data_owners=roles.format_ranks(held.data_owners),
        output=held.output, backend_config=config,
        role=[None if r < 0 else roles.role_of(held, r) for r in frame["rank"]])


def test_report_marks_dealers_that_own_inputs_and_costs_each_role(tmp_path):
    default = _with_roles(_run(1, "crypten", "mlp", 3), Roles(), ["data_owner", "model_owner"])
    apart = _with_roles(_run(2, "crypten", "mlp", 3), Roles(1, (2,)), [])
    df = pd.concat([store.read_file(store.append(f, tmp_path)) for f in (default, apart)])
    cells = report_roles.mark_dealers(summary.summary(df), df)
    notes = dict(zip(cells["system"], cells["security_note"], strict=True))
    assert "dealer is data owner + model owner" in notes["crypten"]
    assert "dealer is" not in notes["crypten <mo=1,do=2,out=owners>"]
    costs = report_roles.role_costs(df)
    apart_costs = costs[costs["roles"] == "mo=1,do=2,out=owners"].set_index("role")
    assert list(apart_costs.index) == ["compute", "data_owner+output", "model_owner"]
    assert apart_costs.loc["compute", "ranks"] == "0"
    assert (costs["wall_s"] > 0).all() and (costs["mib_sent_per_img"] > 0).all()
