"""The report's privacy and robustness tables from schema-conformant rows."""

import pandas as pd

from mpcbench.report import privacy, robustness
from mpcbench.results import store
from tests.unit import report_data


def _rows(tmp_path, extra=()):
    for run in [*report_data.synthetic(), *extra]:
        store.append(run, tmp_path)
    return store.load(tmp_path)


def _as_split(run: pd.DataFrame) -> pd.DataFrame:
    """A feedback run's rows relabelled as a split run with an epsilon and attack rows."""
    run = run.assign(framework="split", model="split", config="noise_multiplier=0.5")
    party = run.iloc[:1].assign(rank=0, phase="total", is_warmup=False)
    run = run[~run["metric"].str.startswith("attack_mse")]
    extra = pd.concat([party.assign(metric=m, value=v, source=s) for m, v, s in (
        ("epsilon", 9.1, "measured"), ("attack_mse", 0.002, "cached"),
        ("attack_mse_cross_data", 0.01, "cached"))])
    return pd.concat([run, extra], ignore_index=True)


def test_privacy_table_says_what_mpc_protects_and_lists_each_attacker(tmp_path):
    feedback = next(r for r in report_data.synthetic() if r["framework"].iloc[0] == "feedback")
    df = _rows(tmp_path, [_as_split(feedback.assign(run_id="split1"))])
    table = privacy.privacy_table(df)
    mpc = table[table["system"].str.startswith(("crypten", "mpyc"))]
    said = mpc.assign(zero=mpc["system"].str.contains("t=0"), text=mpc["attack_mse"])
    assert len(said) and said["text"].str.startswith(privacy.MPC_ATTACK).all()
    assert said.loc[said["zero"], "text"].str.contains("in the clear at every party").all()
    assert said.loc[~said["zero"], "text"].str.contains("private").all()
    split = table[table["system"] == "split"].set_index("attacker")
    assert list(split["attack_mse"]) == [0.002, 0.01]
    assert set(split["source"]) == {"cached"} and set(split["epsilon"]) == {9.1}
    assert not table["system"].isin(["plaintext", "feedback"]).any()  # nothing to invert


def test_robustness_verdict_tells_a_loose_bound_from_a_bug():
    assert robustness.verdict(1.0, 187.0).startswith("held on every image; bound 187")
    assert robustness.verdict(0.0, 0.9).startswith("VIOLATED")
    assert robustness.verdict(float("nan"), float("nan")) == "not checked"
