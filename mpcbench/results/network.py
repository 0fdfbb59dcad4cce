"""What the network does to a run: its links as requested and as measured, time against
round-trip time, effective rounds and a simple cost model (pandas only).

* A run on the ``none`` network (this machine's loopback) has RTT 0 and no rate limit.
* An emulated run stores its profile and the probe taken before its parties started in
  ``backend_config["placement"]``; the default link gives the run's one-way delay, RTT
  (there and back) and rate.
* **Effective rounds** of a cell (system, model, dataset, parties, batch) = the slope of
  its median time per batch against the requested RTT, fitted over the networks it was
  measured on (two or more, one with an RTT of at least 5 ms): the number of
  sequential round trips a batch really waits for. Beside it, the counted rounds per
  batch (max over parties), where the framework counts them.
* **Cost model** of an emulated cell: local time per batch (the same cell on ``none``)
  + counted rounds per batch x RTT + bytes a party sends per batch x 8 / rate, predicted
  against measured.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from .schema import first_rows
from .summary import CELL, repeats

#: a cell across networks: the summary's cell without the network
ACROSS = [c for c in CELL if c != "network"]
#: effective rounds need one network at least this far (RTT) from the others
MIN_RTT_SPAN_S = 0.005
#: columns of :func:`by_network`
BY_NETWORK = [*CELL, "system", "series", "kind", "s_per_img", "s_per_batch", "delay_s", "rtt_s",
              "rate_bps", "measured_rtt_s", "rounds_per_batch", "mib_per_party_batch"]


def _placement(text: object) -> dict:
    try:
        cfg = json.loads(text) if isinstance(text, str) else {}
    except json.JSONDecodeError:
        return {}
    return cfg.get("placement", {}) if isinstance(cfg, dict) else {}


def links(df: pd.DataFrame) -> pd.DataFrame:
    """Per run: requested one-way delay, RTT and rate of the default link, and the
    median measured RTT and rate of the probed links (NaN where not emulated)."""
    runs = first_rows(df)  # the network and configuration are the run's
    said = {config: _link(config) for config in set(runs["backend_config"].dropna())}
    unset = _link(None)
    out = pd.DataFrame([{"run_id": run_id, "network": network,
                         **(said[config] if isinstance(config, str) else unset)}
                        for run_id, network, config in zip(
                            runs["run_id"], runs["network"], runs["backend_config"],
                            strict=True)],
                       columns=["run_id", "network", "delay_s", "rtt_s", "rate_bps",
                                "measured_rtt_s", "measured_rate_bps"])
    return out.astype({c: "float64" for c in out.columns[2:]})


def _link(config: object) -> dict[str, float]:
    """Requested delay, RTT and rate of a run's default link and the median measured RTT
    and rate of its probed links, from its ``backend_config``."""
    placed = _placement(config)
    default = placed.get("network", {}).get("profile", {}).get("default", {})
    probed = placed.get("probe", {}).get("links", [])
    emulated = bool(default)

    def median(key: str) -> float:
        found = [p[key] for p in probed if p.get(key) is not None and not pd.isna(p[key])]
        return float(np.median(found)) if found else np.nan

    return {"delay_s": default.get("delay_s", 0.0) if emulated else 0.0,
            "rtt_s": 2 * default.get("delay_s", 0.0) if emulated else 0.0,
            "rate_bps": default.get("rate_bps") if emulated else np.nan,
            "measured_rtt_s": median("measured_rtt_s"),
            "measured_rate_bps": median("measured_rate_bps")}


def by_network(df: pd.DataFrame, obs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per cell and network: median time per image and per batch, requested RTT, rate,
    counted rounds and MiB sent per party per batch (from the rows ``df`` and their
    :func:`~.summary.repeats` ``obs``, computed here when not given)."""
    obs = repeats(df) if obs is None else obs
    if obs.empty:
        return pd.DataFrame(columns=BY_NETWORK)
    # the figures' series without its network: one series across networks
    obs = obs.assign(series=obs["series"].str.replace(r" @\S+$", "", regex=True))
    obs = obs.merge(links(df).drop(columns="network"), on="run_id", how="left")
    obs["s_per_batch"] = obs["s_per_img"] * obs["batch"].astype("float64")
    obs["rounds_per_batch"] = obs["rounds_per_img"] * obs["batch"].astype("float64")
    obs["mib_per_party_batch"] = (obs["mib_per_img"] * obs["batch"].astype("float64")
                                  / obs["parties"].astype("float64"))
    table = obs.groupby([*CELL, "system", "series", "kind"], dropna=False).agg(
        s_per_img=("s_per_img", "median"), s_per_batch=("s_per_batch", "median"),
        delay_s=("delay_s", "first"), rtt_s=("rtt_s", "first"), rate_bps=("rate_bps", "first"),
        measured_rtt_s=("measured_rtt_s", "median"),
        rounds_per_batch=("rounds_per_batch", "median"),
        mib_per_party_batch=("mib_per_party_batch", "median"),
    ).reset_index()
    return table.sort_values([*ACROSS, "rtt_s"], ignore_index=True)[BY_NETWORK]


def effective_rounds(table: pd.DataFrame) -> pd.DataFrame:
    """Per cell measured on two or more RTTs: the slope of time per batch against RTT
    (effective rounds per batch) next to the counted rounds per batch."""
    rows = []
    for key, grp in table[table["kind"] == "MPC"].groupby([*ACROSS, "series"], dropna=False):
        grp = grp.dropna(subset=["s_per_batch", "rtt_s"])
        if grp["rtt_s"].nunique() < 2 or grp["rtt_s"].max() < MIN_RTT_SPAN_S:
            continue  # sub-millisecond RTTs alone: the slope would be noise
        slope, intercept = np.polyfit(grp["rtt_s"], grp["s_per_batch"], 1)
        rows.append({**dict(zip([*ACROSS, "series"], key, strict=True)),
                     "networks": ", ".join(grp["network"].astype(str)),
                     "effective_rounds_per_batch": slope, "intercept_s": intercept,
                     "counted_rounds_per_batch": grp["rounds_per_batch"].median()})
    return pd.DataFrame(rows)


def cost_model(table: pd.DataFrame) -> pd.DataFrame:
    """Predicted vs measured time per batch for every emulated MPC cell with a loopback
    (``none``) twin: local time + counted rounds x RTT + bytes per party / rate."""
    mpc = table[table["kind"] == "MPC"]
    local = mpc[mpc["network"] == "none"].set_index([*ACROSS, "series"])["s_per_batch"]
    remote = mpc[mpc["network"] != "none"].copy()
    if remote.empty or local.empty:
        return pd.DataFrame(columns=[*ACROSS, "network", "predicted_s_per_batch"])
    index = pd.MultiIndex.from_frame(remote[[*ACROSS, "series"]])
    remote["local_s_per_batch"] = local.reindex(index).to_numpy()
    transfer = remote["mib_per_party_batch"] * 2**20 * 8 / remote["rate_bps"]
    remote["predicted_s_per_batch"] = (remote["local_s_per_batch"]
                                       + remote["rounds_per_batch"] * remote["rtt_s"]
                                       + transfer.fillna(0.0))
    remote["measured_over_predicted"] = (remote["s_per_batch"]
                                         / remote["predicted_s_per_batch"])
    cols = [*ACROSS, "series", "network", "rtt_s", "rate_bps", "local_s_per_batch",
            "rounds_per_batch", "mib_per_party_batch", "predicted_s_per_batch", "s_per_batch",
            "measured_over_predicted"]
    return remote.dropna(subset=["local_s_per_batch"])[cols].reset_index(drop=True)


def fidelity(df: pd.DataFrame) -> pd.DataFrame:
    """Per emulated run: requested vs measured RTT and rate of the default link (median
    over the probed links)."""
    table = links(df)
    table = table[table["network"] != "none"]
    runs = df.groupby("run_id")["case_id"].first()
    return table.assign(case_id=table["run_id"].map(runs)).reset_index(drop=True)
