"""Summaries of the tidy table: one row per run (terminal) and phase timings of a run."""

from __future__ import annotations

import pandas as pd

#: columns of :func:`runs`, in display order
RUN_COLUMNS = ["run_id", "framework", "model", "dataset", "parties", "batch", "images",
               "status", "img_per_s", "s_per_img", "slowdown", "accuracy", "agreement", "max_abs_err",
               "peak_rss_mb", "mb_sent_per_img", "rounds_per_img", "threshold", "provider"]


def _per_rank_total(df: pd.DataFrame, metric: str) -> pd.Series:
    """Per run: median over measured repeats of ``metric`` over parties.

    Bytes are summed over the parties (total traffic); memory and rounds take the
    largest party.
    """
    rows = df[(df["rank"] >= 0) & ~df["is_warmup"] & (df["phase"] == "total")
              & (df["metric"] == metric)]
    per_repeat = rows.groupby(["run_id", "repeat"])["value"]
    agg = per_repeat.sum() if metric.startswith("bytes") else per_repeat.max()
    return agg.groupby("run_id").median()


def runs(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run: identity, status, throughput, quality, memory and traffic."""
    ident = df.groupby("run_id", sort=False)[
        ["framework", "model", "dataset", "parties", "batch", "images", "threshold", "provider",
         "timestamp"]
    ].first()
    status = df.groupby("run_id")["status"].agg(lambda s: "ok" if (s == "ok").all() else s.iloc[0])
    run_level = df[df["rank"] == -1].pivot_table(index="run_id", columns="metric",
                                                 values="value", aggfunc="first")
    out = ident.join(status).join(run_level.reindex(
        columns=["img_per_s", "s_per_img", "accuracy", "agreement", "max_abs_err"]))
    out["peak_rss_mb"] = _per_rank_total(df, "peak_rss_bytes") / 2**20
    out["mb_sent_per_img"] = _per_rank_total(df, "bytes_sent") / 2**20 / out["images"]
    out["rounds_per_img"] = _per_rank_total(df, "rounds") / out["images"]
    out["slowdown"] = _slowdown(out)
    return out.sort_values("timestamp").reset_index()[RUN_COLUMNS]


def _slowdown(runs: pd.DataFrame) -> pd.Series:
    """Plaintext img/s over the run's img/s, against the newest plaintext run of the same
    model and dataset in the same results (NaN where there is none)."""
    plain = (runs[(runs["framework"] == "plaintext") & (runs["status"] == "ok")]
             .sort_values("timestamp").groupby(["model", "dataset"])["img_per_s"].last())
    ref = runs.join(plain.rename("plain_img_per_s"), on=["model", "dataset"])["plain_img_per_s"]
    return ref / runs["img_per_s"]


def phases(df: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """Per phase of one run: median over measured repeats of the slowest party's time."""
    rows = df[(df["run_id"] == run_id) & (df["rank"] >= 0) & ~df["is_warmup"]
              & (df["metric"] == "wall_s")]
    slowest = rows.groupby(["phase", "repeat"])["value"].max()
    return slowest.groupby("phase").median().rename("wall_s").reset_index()
