"""Who held what, in the report: runs whose dealer of correlated randomness also owns the
model or images it protects, and what each role costs (a data owner vs a party that only
computes)."""

from __future__ import annotations

import pandas as pd

from ..metrics import DEAL, DEALER
from ..results import security, summary
from ..results.labels import cell_label
from ..roles import stored_label

#: the per-role cost table groups party rows by these (a cell of the summary, then a role)
_KEYS = [*summary.CELL, "role"]
#: per-party metrics of the ``total`` phase in the table
_TOTALS = ("wall_s", "cpu_s", "peak_rss_bytes", "bytes_sent", "bytes_received")


def _dealer_owns(config: object) -> str:
    """``data_owner+model_owner`` (what the run's dealer also owned) from a run's
    ``backend_config``; empty if no party dealt or the dealer owned nothing."""
    return "+".join(security.extras(config).get("dealer_owns") or [])


def mark_dealers(cells: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """The summary ``cells`` with a security note on every cell whose dealer (e.g. CrypTen
    TFP's party 0) also owned the model or the images: it sees its own secrets' masks."""
    rows = summary.usable(df)
    owns = rows.groupby(summary.CELL, dropna=False)["backend_config"].first().map(_dealer_owns)
    owns = owns.rename("_dealer_owns").reset_index()
    out = cells.merge(owns, on=summary.CELL, how="left")
    notes = []
    for note, held in zip(out["security_note"].fillna(""), out["_dealer_owns"].fillna(""),
                          strict=True):
        mark = (f"dealer is {held.replace('_', ' ').replace('+', ' + ')}: it deals the "
                "randomness that masks its own inputs") if held else ""
        notes.append("; ".join(n for n in (note, mark) if n))
    out["security_note"] = notes
    return out.drop(columns="_dealer_owns")


def role_costs(df: pd.DataFrame) -> pd.DataFrame:
    """Per MPC cell and role: how many parties held it, and the median over its parties'
    non-warm-up repeats of the ``total`` phase's wall and CPU seconds (and wall seconds per
    image), the largest peak RSS, and MiB sent and received per image. A dealer has one
    ``deal`` phase over its whole service (every repeat, warm-up included): its figures are
    that phase's, per image of one repeat, so they are an upper bound beside the parties'."""
    rows = summary.usable(df)
    measured = rows["phase"].eq("total") | (rows["role"].eq(DEALER) & rows["phase"].eq(DEAL))
    rows = rows[summary.is_mpc(rows) & rows["rank"].ge(0).fillna(False)
                & ~summary.is_micro(rows) & measured.fillna(False)
                & rows["metric"].isin(_TOTALS)]
    columns = ["system", "model", "parties", "roles", "role", "ranks", "wall_s", "s_per_img",
               "cpu_s", "peak_rss_mib", "mib_sent_per_img", "mib_received_per_img"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    rows = rows.assign(role=rows["role"].fillna("?"))
    keys = [*_KEYS, "images", "run_id", "repeat", "rank"]
    per_party = (rows.groupby([*keys, "metric"], dropna=False)["value"].first()
                 .unstack("metric").reset_index().rename_axis(columns=None))
    per_party = per_party.dropna(subset=["wall_s"])
    for col in _TOTALS:
        if col not in per_party:
            per_party[col] = float("nan")
    per_party["s_per_img"] = per_party["wall_s"] / per_party["images"].astype(float)
    per_party["sent"] = per_party["bytes_sent"] / per_party["images"].astype(float) / summary.MIB
    per_party["received"] = (per_party["bytes_received"] / per_party["images"].astype(float)
                             / summary.MIB)
    table = per_party.groupby(_KEYS, dropna=False).agg(
        ranks=("rank", lambda r: ",".join(str(v) for v in sorted(set(r)))),
        wall_s=("wall_s", "median"), s_per_img=("s_per_img", "median"),
        cpu_s=("cpu_s", "median"),
        peak_rss_mib=("peak_rss_bytes", "max"), mib_sent_per_img=("sent", "median"),
        mib_received_per_img=("received", "median")).reset_index()
    table["peak_rss_mib"] = table["peak_rss_mib"] / summary.MIB
    table["system"] = cell_label(table)
    table["roles"] = [stored_label(*v) or "party 0 holds all" for v in
                      zip(table["model_owner"], table["data_owners"], table["output"],
                          strict=True)]
    table = table.sort_values(["model", "parties", "system", "roles", "role"], ignore_index=True)
    return table[columns]
