"""What each security setting protects, in words: one row per setting the backends
declare (their own ``security(case)``, stored as a run stores it), and the tag and
sentence :mod:`mpcbench.results.security` writes for it."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mpcbench.case import Case
from mpcbench.launch.record import SECURITY_COLUMNS, case_columns
from mpcbench.parties import get, kinds
from mpcbench.report import privacy
from mpcbench.results import security, store
from mpcbench.roles import Roles
from tests.unit import report_data

#: every security setting a backend declares: CrypTen's two providers with the default
#: roles and with the inputs elsewhere, MPyC at its default thresholds and at t = 0, SPU's
#: three protocols, the plaintext reference and each baseline
CASES = {
    "crypten TFP": Case("crypten", "mlp", parties=3),
    "crypten TFP, 2 parties": Case("crypten", "mlp", parties=2),
    "crypten TFP, owners apart": Case("crypten", "mlp", parties=3, roles=Roles(1, (2,))),
    "crypten TFP, party 0 owns the model": Case("crypten", "mlp", parties=3,
                                                roles=Roles(0, (1, 2))),
    "crypten TFP, party 0 owns images": Case("crypten", "mlp", parties=3,
                                             roles=Roles(1, (0, 2))),
    "crypten TTP": Case("crypten", "mlp", parties=3, options={"provider": "TTP"}),
    "crypten TTP, owners apart": Case("crypten", "mlp", parties=3, roles=Roles(1, (2,)),
                                      options={"provider": "TTP"}),
    "mpyc t=0, 2 parties": Case("mpyc", "mlp", parties=2),
    "mpyc t=0, 3 parties": Case("mpyc", "mlp", parties=3, options={"threshold": 0}),
    "mpyc t=1, 3 parties": Case("mpyc", "mlp", parties=3),
    "mpyc t=1, 5 parties": Case("mpyc", "mlp", parties=5, options={"threshold": 1}),
    "mpyc t=2, 5 parties": Case("mpyc", "mlp", parties=5),
    "spu SEMI2K": Case("spu", "mlp", parties=3),
    "spu ABY3": Case("spu", "mlp", parties=3, options={"protocol": "ABY3"}),
    "spu CHEETAH": Case("spu", "mlp", parties=2, options={"protocol": "CHEETAH"}),
    "plaintext": Case("plaintext", "mlp", parties=1),
    "complex": Case("complex", "complex", parties=2, batch=16),
    "feedback": Case("feedback", "cnnf", parties=1),
    "split": Case("split", "split", parties=2),
    "split, DP-SGD": Case("split", "split", parties=2, options={"noise_multiplier": 0.5}),
    "vae": Case("vae", "vae", parties=1),
}
ZERO = [name for name in CASES if "t=0" in name]


def _stored(case: Case) -> dict:
    """The row a run of ``case`` stores: its case columns, the security columns and the
    rest of the backend's record as JSON under ``security`` in ``backend_config``."""
    declared = get(case.framework).security(case)
    extras = {k: v for k, v in declared.items() if k not in SECURITY_COLUMNS}
    return {**case_columns(case), **{k: v for k, v in declared.items() if k in SECURITY_COLUMNS},
            "backend_config": json.dumps({"security": extras})}


@pytest.fixture(scope="module")
def said() -> dict[str, security.Setting]:
    rows = pd.DataFrame([_stored(case) for case in CASES.values()], index=list(CASES))
    words = security.of_rows(rows)
    return {name: security.Setting(tag, sentence) for name, tag, sentence in
            zip(words.index, words["security"], words["security_sentence"], strict=True)}


def test_every_registered_framework_has_a_setting_here():
    assert {case.framework for case in CASES.values()} == set(kinds())


@pytest.mark.parametrize("name", ZERO)
def test_threshold_zero_is_no_privacy_never_inputs_that_stay_hidden(said, name):
    assert said[name].tag == "t=0 (no privacy)"
    sentence = said[name].sentence
    assert sentence.startswith("no privacy: every party holds the values")
    assert "in the clear at every party" in sentence
    assert "never leave in the clear" not in sentence and "private" not in sentence


@pytest.mark.parametrize(("name", "parties", "t"), [
    ("mpyc t=1, 3 parties", 3, 1), ("mpyc t=1, 5 parties", 5, 1), ("mpyc t=2, 5 parties", 5, 2)])
def test_honest_majority_states_its_assumption(said, name, parties, t):
    assert said[name] == security.Setting(
        "honest majority", f"private while at most {t} of {parties} parties collude "
             "(semi-honest, honest majority t < m/2)")


def test_tfp_names_party_0_and_what_it_could_learn(said):
    default = said["crypten TFP"]
    assert default.tag == "TFP dealer"
    assert default.sentence.startswith(
        "party 0 generates all correlated randomness in the clear (trusted first party), so "
        "party 0 could learn every other party's inputs")
    assert "none here (party 0 owns the model and all images)" in default.sentence
    assert "private against any coalition without party 0 (semi-honest)" in default.sentence
    assert said["crypten TFP, 2 parties"] == default  # the same words at any party count
    apart = said["crypten TFP, owners apart"].sentence
    assert "here the model (party 1) and the images of party 2" in apart
    assert "party 0 owns" not in apart
    model = said["crypten TFP, party 0 owns the model"].sentence
    assert "here the images of parties 1, 2 (party 0 owns the model)" in model
    images = said["crypten TFP, party 0 owns images"].sentence
    assert "here the model (party 1) and the images of party 2 (party 0 owns some of the " \
           "images)" in images


@pytest.mark.parametrize("name", ["crypten TTP", "crypten TTP, owners apart"])
def test_ttp_is_a_dealer_without_inputs_trusted_not_to_collude(said, name):
    assert said[name] == security.Setting("TTP dealer", (
        "a separate dealer process (trusted third party) that holds no inputs deals the "
        "correlated randomness; private unless all parties collude (semi-honest; the dealer "
        "is trusted not to collude with any party)"))


def test_each_spu_protocol_says_whom_it_trusts(said):
    semi2k = said["spu SEMI2K"]
    assert semi2k.tag == "TFP dealer"  # SEMI2K's Beaver triples come from party 0
    assert semi2k.sentence.startswith("party 0 generates all correlated randomness in the "
                                      "clear (trusted first party)")
    assert said["spu ABY3"] == security.Setting(
        "honest majority", "private while at most 1 of 3 parties collude (3 parties, honest "
                           "majority, semi-honest)")
    assert said["spu CHEETAH"] == security.Setting(
        "dishonest majority", "private unless all 2 parties collude (2 parties, no dealer, "
                              "semi-honest)")


def test_no_mpc_says_no_cryptographic_protection_and_what_the_backend_says(said):
    assert said["plaintext"] == security.Setting(
        "plaintext", "no cryptographic protection: every value is in the clear")
    for name in ("feedback", "vae"):
        assert said[name] == security.Setting("none", (
            "no cryptographic protection (plaintext, robustness baseline): every value is "
            "in the clear"))
    for name in ("complex", "split", "split, DP-SGD"):
        assert said[name].tag == "empirical only"
        assert said[name].sentence.startswith("no cryptographic protection (")
        assert "empirical (inversion attack)" in said[name].sentence
    assert "DP-SGD (noise 0.5" in said["split, DP-SGD"].sentence
    assert "DP-SGD" not in said["split"].sentence


def test_n_out_of_n_without_a_dealer_and_a_missing_threshold():
    row = {"kind": "mpc", "parties": 4, "threshold": 3, "provider": "none",
           "adversary": "semi-honest"}
    assert security.describe(row) == security.Setting(
        "dishonest majority", "private unless all 4 parties collude (semi-honest)")
    assert security.describe({**row, "threshold": float("nan")}).sentence == \
        security.UNRECORDED


def test_privacy_table_says_inputs_are_in_the_clear_at_threshold_zero(tmp_path):
    for run in report_data.synthetic():
        store.append(run, tmp_path)
    table = privacy.privacy_table(store.load(tmp_path))
    mpyc = table[table["system"].str.startswith("mpyc")].set_index("system")["attack_mse"]
    zero = mpyc[mpyc.index.str.contains("t=0")]
    assert len(zero) == 1 and zero.iloc[0] == privacy.MPC_ATTACK + security.NO_PRIVACY
    assert all("never leave in the clear" not in text for text in table["attack_mse"].astype(str))
