"""Statistics of the sharing micro-benchmark (``workload = micro``): how long loading and
secret-sharing a model's weights take, per framework and dtype, beside torch's own load
time (the plaintext runs' ``load`` phase)."""

from __future__ import annotations

import pandas as pd

from .labels import cell_label
from .summary import MIB, OBS, is_micro, per_rank, quantile, usable


def micro_repeats(df: pd.DataFrame) -> pd.DataFrame:
    """Sharing micro-benchmark: per run x repeat, the slowest party's ``load`` and ``share``
    time and the largest party's peak RSS over the micro-benchmark's phases."""
    chosen = is_micro(df) & (df["rank"] >= 0) & df["phase"].isin(["load", "share", "total"])
    rows = usable(df[chosen.fillna(False).astype(bool)])
    rows = rows.assign(dtype=rows["dtype"].fillna("?").astype(str))
    keys = ["framework", "dtype", "case_id", "parties", "config", *OBS]
    rss = rows[rows["metric"] == "peak_rss_bytes"].groupby(keys, dropna=False)["value"].max()
    obs = pd.concat(
        {
            "load_s": per_rank(rows, "load", "wall_s", "max", keys),
            "share_s": per_rank(rows, "share", "wall_s", "max", keys),
            "peak_rss_mib": rss / MIB,
        },
        axis=1,
    ).reset_index()
    obs = obs[obs["share_s"].notna()]
    obs["system"] = cell_label(obs)
    return obs


def micro(df: pd.DataFrame) -> pd.DataFrame:
    """Sharing micro-benchmark table per framework and dtype: median load and share time
    (share with IQR), peak RSS, and share time over torch's load time (plaintext ``load``)."""
    obs = micro_repeats(df)
    if obs.empty:
        return pd.DataFrame(columns=["framework", "system", "dtype", "case_id", "share_s",
                                     "peak_rss_mib"])
    table = obs.groupby(["framework", "system", "dtype", "case_id", "parties", "config"],
                        dropna=False).agg(
        repeats=("share_s", "count"),
        load_s=("load_s", "median"),
        share_s=("share_s", "median"),
        share_s_q25=("share_s", quantile(0.25)),
        share_s_q75=("share_s", quantile(0.75)),
        peak_rss_mib=("peak_rss_mib", "max"),
    ).reset_index()
    torch_load = table[table["framework"] == "plaintext"].groupby("dtype")["load_s"].min()
    table["share_vs_torch_load"] = table["share_s"] / table["dtype"].map(torch_load)
    return table.sort_values(["dtype", "framework", "parties"], ignore_index=True)

