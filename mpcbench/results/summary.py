"""Performance statistics from the tidy results table (pandas only).

Every number of the report starts here. Rows are filtered to ``status == "ok"`` and
non-warm-up measurements; a *cell* is one framework x model x dataset x parties x batch
x security setting x resolved configuration (``config``: runs configured differently are
never aggregated together) x roles (model owner, data owners, output); an *observation* is
one repeat of one run of a cell:

* time per image = max over ranks of the party's ``total`` wall time / images,
* online MiB per image = bytes the computing parties sent each other, summed over ranks
  (``bytes_sent - bytes_sent_offline``) / images / 2^20,
* offline MiB per image = bytes on the links between the computing parties and a dealer,
  both ways (``bytes_sent_offline + bytes_received_offline`` summed over ranks) / images
  / 2^20: 0 without a dealer (CrypTen TFP, MPyC's PRSS), missing in runs stored before
  offline bytes were told apart,
* MiB per image = online + offline (every byte once; without a dealer: bytes sent
  summed over ranks),
* rounds per image = max over ranks of rounds / images (missing where the backend does
  not count rounds, e.g. MPyC: not 0),
* peak RSS per party = max over ranks of the ``total`` phase's peak RSS (a cell: max over
  its repeats); a dealer's own (its process's lifetime peak) is ``dealer_rss_mib``,
* dealer CPU per image = a dealer's CPU time serving the run (phase ``deal``, which spans
  every repeat, warm-up included) / (images x repeats including warm-up).

"Ranks" are the computing parties ``0 .. parties-1``: a dealer (rank ``parties``, role
``dealer``, e.g. CrypTen's TTP) enters only the offline bytes (seen from the parties'
side) and its own columns.

Cells summarise observations with the median and the inter-quartile range. Labels come
from :mod:`.labels`; the sharing micro-benchmark has its own statistics (:mod:`.micro`),
and :mod:`.runs` puts one line per stored run.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..case import Inference, Micro, Training
from ..metrics import DEAL, PHASES, RANK_METRICS
from .labels import add_labels, kind_label

#: identity of a cell (one line of the summary table)
CELL = ["framework", "model", "dataset", "parties", "network", "batch", "provider",
        "threshold", "config", "model_owner", "data_owners", "output"]
#: run-level metrics aggregated per cell, and how
RUN_AGG = {"accuracy": "mean", "plain_accuracy": "mean", "agreement": "mean", "max_abs_err": "max"}
#: the four timed phases of a repeat, in order
PHASE_ORDER = [p for p in PHASES if p != "total"]

TFP_NOTE = "TFP: party 0 deals all correlated randomness"
ZERO_NOTE = "t=0: no privacy against a single corrupt party"
MIB = 2**20
#: what tells the observations of a cell apart: one repeat of one run
OBS = ["run_id", "repeat"]


def _usable(df: pd.DataFrame) -> pd.Series:
    """Per row: does it enter statistics (see :func:`usable`)?"""
    ok = df["status"].fillna("ok").eq("ok") & ~df["is_warmup"].fillna(False).astype(bool)
    return ok & df["value"].notna()


def usable(df: pd.DataFrame) -> pd.DataFrame:
    """Rows that enter statistics: status ok (or unset) and not warm-up."""
    return df[_usable(df)]


def is_workload(df: pd.DataFrame, kind: str) -> pd.Series:
    """Per row: is it of a run of workload ``kind`` (``inference``, ``micro``,
    ``training``: the ``workload`` column; a row without one counts as inference)?"""
    return df["workload"].fillna(Inference.kind).eq(kind).astype(bool)


def is_training(df: pd.DataFrame) -> pd.Series:
    """Rows of secure training runs (see :mod:`mpcbench.report.training`), which
    inference statistics leave out."""
    return is_workload(df, Training.kind)


def is_micro(df: pd.DataFrame) -> pd.Series:
    """Rows of sharing micro-benchmark runs (see :mod:`.micro`), which inference
    statistics leave out."""
    return is_workload(df, Micro.kind)


def _inference(df: pd.DataFrame) -> pd.DataFrame:
    return df[_usable(df) & is_workload(df, Inference.kind)]


def is_dealer(df: pd.DataFrame) -> pd.Series:
    """Per row: is it a dealer's (a rank after the computing parties')?"""
    return (df["rank"] >= df["parties"]).fillna(False).astype(bool)


def _parties(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of the computing parties (not run-level, not a dealer's)."""
    return df[(df["rank"] >= 0).fillna(False).astype(bool) & ~is_dealer(df)]


def per_rank(df: pd.DataFrame, phase: str, metric: str, how: str, keys: list[str]) -> pd.Series:
    """Per group of ``keys``: the computing parties' ``metric`` of ``phase``, aggregated
    over ranks by ``how`` (``max``, ``sum``)."""
    sel = _parties(df[(df["phase"] == phase) & (df["metric"] == metric)])
    return sel.groupby(keys, dropna=False)["value"].agg(how)


def dealer_peak_rss(df: pd.DataFrame) -> pd.Series:
    """Per run id: its dealers' largest lifetime peak RSS in bytes (runs without one:
    absent)."""
    sel = df[is_dealer(df) & (df["phase"] == "process") & (df["metric"] == "peak_rss_bytes")]
    return sel.groupby("run_id")["value"].max()


def dealer_cpu_per_img(df: pd.DataFrame) -> pd.Series:
    """Per run id: its dealers' CPU seconds per image served (runs without one: absent).

    ``df`` unfiltered: the dealer serves the warm-up repeats too, so they are counted."""
    ok = df["status"].fillna("ok").eq("ok") & df["value"].notna()
    cpu = df[ok & (df["phase"] == DEAL) & (df["metric"] == "cpu_s")]
    cpu = cpu[is_dealer(cpu)]
    totals = _parties(df[ok & (df["phase"] == "total") & (df["metric"] == "wall_s")])
    served = totals.groupby("run_id")["repeat"].nunique() * totals.groupby("run_id")[
        "images"].max().astype("float64")
    return (cpu.groupby("run_id")["value"].sum() / served).dropna()


def is_mpc(df: pd.DataFrame) -> pd.Series:
    """Per row: was it made by a backend that declares itself an MPC framework? (``kind``
    is the declared kind or its label.)"""
    return df["kind"].astype("string").str.lower().eq("mpc").fillna(False).astype(bool)


def repeats(df: pd.DataFrame) -> pd.DataFrame:
    """One row per cell x run x repeat with time, throughput, memory and traffic per image.

    Runs without per-party rows (e.g. baselines that only report ``s_per_img``) contribute
    their run-level time per image.
    """
    rows = _inference(df)
    keys = CELL + OBS
    obs = pd.concat(
        {
            "total_s": per_rank(rows, "total", "wall_s", "max", keys),
            "peak_rss_bytes": per_rank(rows, "total", "peak_rss_bytes", "max", keys),
            "bytes_sent": per_rank(rows, "total", "bytes_sent", "sum", keys),
            "offline_sent": per_rank(rows, "total", "bytes_sent_offline", "sum", keys),
            "offline_received": per_rank(rows, "total", "bytes_received_offline", "sum",
                                          keys),
            "rounds": per_rank(rows, "total", "rounds", "max", keys),
        },
        axis=1,
    )
    images = rows.groupby(keys, dropna=False)["images"].max().astype("float64")
    obs = obs.join(images, how="left").reset_index()
    run_level = rows[(rows["rank"] < 0) & (rows["metric"] == "s_per_img")]
    run_level = run_level[~run_level["run_id"].isin(obs.loc[obs["total_s"].notna(), "run_id"])]
    fallback = run_level.groupby(keys, dropna=False).agg(
        s_per_img=("value", "median"), images=("images", "max")
    ).reset_index()
    fallback["images"] = fallback["images"].astype("float64")
    fallback["total_s"] = fallback["s_per_img"] * fallback["images"]
    obs = pd.concat([obs[obs["total_s"].notna()], fallback], ignore_index=True)
    obs["s_per_img"] = obs["total_s"] / obs["images"]
    obs["img_per_s"] = obs["images"] / obs["total_s"]
    obs["peak_rss_mib"] = obs["peak_rss_bytes"] / MIB
    online = obs["bytes_sent"] - obs["offline_sent"].fillna(0)
    offline = obs["offline_sent"] + obs["offline_received"]
    obs["online_mib_per_img"] = online / obs["images"] / MIB
    obs["offline_mib_per_img"] = offline / obs["images"] / MIB
    obs["mib_per_img"] = (online + offline.fillna(0)) / obs["images"] / MIB
    obs["dealer_rss_mib"] = obs["run_id"].map(dealer_peak_rss(rows)).astype("float64") / MIB
    obs["dealer_cpu_s_per_img"] = obs["run_id"].map(dealer_cpu_per_img(df)).astype("float64")
    obs["rounds_per_img"] = obs["rounds"] / obs["images"]
    obs = obs.drop(columns=["peak_rss_bytes", "bytes_sent", "offline_sent",
                            "offline_received", "rounds"])
    return add_labels(_with_kind(obs, rows))


def _with_kind(cells: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    declared = rows.dropna(subset=["kind"]).groupby("framework")["kind"].first()
    return cells.assign(kind=kind_label(cells["framework"].map(declared)))


def run_level(df: pd.DataFrame) -> pd.DataFrame:
    """Run-level rows (rank -1) of inference runs, with ``system`` and ``kind``."""
    rows = _inference(df)
    return add_labels(_with_kind(rows[rows["rank"] < 0], rows))


def quantile(p: float) -> Callable[[pd.Series], float]:
    """Aggregation function: the ``p`` quantile of a group (named ``q25`` for 0.25)."""
    def of(s: pd.Series) -> float:
        return s.quantile(p)

    of.__name__ = f"q{int(p * 100)}"
    return of


def summary(df: pd.DataFrame, obs: pd.DataFrame | None = None) -> pd.DataFrame:
    """The summary table: one row per cell (see module doc for the definitions), from the
    rows ``df`` and their :func:`repeats` ``obs`` (computed here when not given).

    Columns: cell keys, ``system``, ``settings``, ``series`` and ``security`` (see
    :mod:`.labels`), ``kind``, ``runs``, ``repeats``, ``images``,
    ``s_per_img`` (median) with ``s_per_img_q25``/``s_per_img_q75``, ``img_per_s``,
    ``slowdown`` (vs plaintext of the same model, dataset and batch, else any batch),
    ``accuracy``, ``plain_accuracy``, ``agreement``, ``max_abs_err``, ``peak_rss_mib``,
    ``mib_per_img`` (``online_mib_per_img`` + ``offline_mib_per_img``), ``dealer_rss_mib``,
    ``dealer_cpu_s_per_img``,
    ``rounds_per_img``, ``eff`` (median total time of a repeat / accuracy)
    and the security columns.
    """
    obs = repeats(df) if obs is None else obs
    rows = _inference(df)
    grouped = obs.groupby(CELL, dropna=False)
    table = grouped.agg(
        system=("system", "first"),
        settings=("settings", "first"),
        series=("series", "first"),
        security=("security", "first"),
        kind=("kind", "first"),
        runs=("run_id", "nunique"),
        repeats=("total_s", "count"),
        images=("images", "max"),
        s_per_img=("s_per_img", "median"),
        s_per_img_q25=("s_per_img", quantile(0.25)),
        s_per_img_q75=("s_per_img", quantile(0.75)),
        img_per_s=("img_per_s", "median"),
        total_s=("total_s", "median"),
        peak_rss_mib=("peak_rss_mib", "max"),
        mib_per_img=("mib_per_img", "median"),
        online_mib_per_img=("online_mib_per_img", "median"),
        offline_mib_per_img=("offline_mib_per_img", "median"),
        dealer_rss_mib=("dealer_rss_mib", "max"),
        dealer_cpu_s_per_img=("dealer_cpu_s_per_img", "median"),
        rounds_per_img=("rounds_per_img", "median"),
    )
    run_metrics = rows[(rows["rank"] < 0) & rows["metric"].isin(list(RUN_AGG))]
    per_metric = {
        m: run_metrics[run_metrics["metric"] == m].groupby(CELL, dropna=False)["value"].agg(how)
        for m, how in RUN_AGG.items()
    }
    table = table.join(pd.DataFrame(per_metric), how="left").reset_index()
    table["slowdown"] = table["s_per_img"] / plaintext_reference(table)
    table["eff"] = table["total_s"] / table["accuracy"]
    security = (
        rows.groupby(CELL, dropna=False)[["protocol", "adversary"]].first().reset_index()
    )
    table = table.merge(security, on=CELL, how="left")
    table["security_note"] = security_notes(table)
    table = table.merge(oversubscription(rows, CELL), on=CELL, how="left")
    return table.sort_values(["model", "dataset", "kind", "framework", "parties", "batch"],
                             ignore_index=True)


def oversubscription(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group of ``keys``: ``oversubscribed`` (a run's parties had more threads than
    the host has cores), ``contended`` (other work shared the machine during a run) and
    the note saying so, e.g. ``5 parties on 2 cores: time-sliced``."""
    flagged = rows.assign(over=rows["oversubscribed"].astype("boolean").fillna(False),
                          shared=rows["contended"].astype("boolean").fillna(False))
    grouped = flagged.groupby(keys, dropna=False)
    out = grouped.agg(oversubscribed=("over", "any"), contended=("shared", "any"),
                      _cores=("cpu_cores", "max"), _threads=("threads_per_party", "max"),
                      _parties=("parties", "max"))
    notes = []
    for over, shared, cores, threads, parties in zip(
            out["oversubscribed"], out["contended"], out["_cores"], out["_threads"],
            out["_parties"], strict=True):
        said = []
        if over:
            who = f"{parties} part{'y' if parties == 1 else 'ies'}" + (
                f" \N{MULTIPLICATION SIGN} {threads} threads"
                if pd.notna(threads) and threads > 1 else "")
            said.append(f"{who} on {cores} cores: time-sliced")
        if shared:
            said.append("other work shared the machine")
        notes.append("; ".join(said))
    out["oversubscription"] = notes
    return out.drop(columns=["_cores", "_threads", "_parties"]).reset_index()


def plaintext_reference(table: pd.DataFrame) -> pd.Series:
    """Median plaintext time per image of each row's model, dataset (and batch if measured)."""
    plain = table[table["framework"] == "plaintext"]
    same_batch = plain.groupby(["model", "dataset", "batch"])["s_per_img"].min()
    any_batch = plain.groupby(["model", "dataset"])["s_per_img"].min()
    by_batch = pd.MultiIndex.from_frame(table[["model", "dataset", "batch"]])
    by_model = pd.MultiIndex.from_frame(table[["model", "dataset"]])
    ref = pd.Series(same_batch.reindex(by_batch).to_numpy(), index=table.index, dtype="float64")
    return ref.fillna(pd.Series(any_batch.reindex(by_model).to_numpy(), index=table.index))


def security_notes(frame: pd.DataFrame) -> pd.Series:
    """Per row, a warning for weakened security: threshold 0 or a trusted-first-party provider."""
    tfp = frame["provider"].astype("string").str.upper().eq("TFP").fillna(False)
    zero = frame["threshold"].eq(0).fillna(False) & is_mpc(frame)
    notes = zip(np.where(tfp, TFP_NOTE, ""), np.where(zero, ZERO_NOTE, ""), strict=True)
    return pd.Series(["; ".join(n for n in pair if n) for pair in notes], index=frame.index)


def phases(df: pd.DataFrame) -> pd.DataFrame:
    """Median seconds per image of each phase (max over ranks) per cell.

    Setup happens once per run; it is divided by the images of one repeat like the others.
    """
    rows = _inference(df)
    keys = CELL + OBS + ["phase"]
    party = _parties(rows)
    sel = party[(party["metric"] == "wall_s") & party["phase"].isin(PHASE_ORDER)]
    per_obs = sel.groupby(keys, dropna=False).agg(wall_s=("value", "max"), images=("images", "max"))
    per_obs["s_per_img"] = per_obs["wall_s"] / per_obs["images"].astype("float64")
    table = per_obs.groupby([*CELL, "phase"], dropna=False)["s_per_img"].median().reset_index()
    table["phase"] = pd.Categorical(table["phase"], categories=PHASE_ORDER, ordered=True)
    table = add_labels(_with_kind(table, rows))
    order = ["model", "dataset", "framework", "parties", "phase"]
    return table.sort_values(order, ignore_index=True)


#: suffix of a metric read from a cache instead of measured in the run
CACHED_SUFFIX = " (cached)"


def run_metrics(df: pd.DataFrame, frameworks: list[str]) -> pd.DataFrame:
    """Every metric of ``frameworks`` except the profiler's per-party measurements, as one
    wide row per framework x model x dataset x parties x configuration (mean over rows).
    A metric read from a cache (``source == "cached"``) is named with :data:`CACHED_SUFFIX`,
    e.g. ``attack_mse (cached)``."""
    rows = _inference(df)
    profiled = (rows["rank"] >= 0) & rows["metric"].isin(list(RANK_METRICS))
    rows = rows[rows["framework"].isin(frameworks) & ~profiled]
    keys = ["framework", "model", "dataset", "parties", "config"]
    if rows.empty:
        return pd.DataFrame(columns=keys)
    cached = rows["source"].eq("cached").fillna(False).astype(bool)
    rows = rows.assign(metric=rows["metric"].astype(str).where(
        ~cached, rows["metric"].astype(str) + CACHED_SUFFIX))
    wide = rows.groupby([*keys, "metric"], dropna=False)["value"].mean().unstack("metric")
    return wide.reset_index().rename_axis(columns=None)
