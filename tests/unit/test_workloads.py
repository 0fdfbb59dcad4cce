"""The workload of a case: one object per kind of run, found once by the launcher and the
party program, which owns its checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpcbench import parties
from mpcbench.case import MICRO, Case, Inference, Micro, Training
from mpcbench.errors import InputError
from mpcbench.launch import workloads
from mpcbench.parties import workloads as party_workloads
from mpcbench.parties.context import PartyContext, read_spec, spec_json


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
