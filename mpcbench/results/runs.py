"""One line per stored run (``mpcbench results``): the figures of its repeats, its
run-level metrics, how it is labelled and what it ran on."""

from __future__ import annotations

import pandas as pd

from ..metrics import DEAL
from .labels import cell_label, kind_label, versions_label
from .micro import micro_repeats
from .schema import COLUMNS
from .summary import RUN_AGG, is_micro, plaintext_reference, repeats, usable

#: columns of :func:`runs`, in display order
RUN_COLUMNS = ["run_id", "timestamp", "system", "framework", "kind", "model", "dataset",
               "parties", "network", "batch", "images", "dtype", "status", "s_per_img",
               "img_per_s", "slowdown", "accuracy", "agreement", "max_abs_err", "peak_rss_mib",
               "mib_per_img", "online_mib_per_img", "offline_mib_per_img", "dealer_rss_mib",
               "rounds_per_img", "threshold", "provider", "config",
               "model_shares", "oversubscribed", "contended", "cached", "versions", "note",
               "error"]

#: what :func:`runs` reads of the results table (``store.load``'s ``columns``, ``phases``
#: and ``metrics``): not the provenance of the machine and code, nor the identity's JSON
READS = [c for c in COLUMNS if c not in {
    "identity", "backend_config", "case_fingerprint", "weights_sha256", "mpcbench_version",
    "python_version", "torch_version", "numpy_version", "git_commit", "git_dirty",
    "hostname", "host", "os", "cpu_model", "ram_bytes", "schema_version", "unit",
    "comm_method", "role", "protocol", "adversary"}]
PHASES_READ = ["total", "load", "share", "process", DEAL]
METRICS_READ = ["wall_s", "cpu_s", "peak_rss_bytes", "bytes_sent", "bytes_sent_offline",
                "bytes_received_offline", "rounds"]


def runs(df: pd.DataFrame) -> pd.DataFrame:
    """One row per stored run, failed ones included: the median over its measured repeats
    of :func:`.summary.repeats`' figures (for a sharing micro-benchmark: of its ``share`` time), its
    run-level metrics, and its slowdown against the plaintext runs in the same table."""
    ident = df.groupby("run_id", sort=False)[
        ["timestamp", "case_id", "framework", "kind", "model", "workload", "dataset",
         "parties", "network", "batch", "images", "dtype", "threshold", "provider", "config",
         "model_owner", "data_owners", "output", "model_shares", "oversubscribed",
         "contended", "status", "note", "error", "framework_versions"]
    ].first()
    ident["system"] = cell_label(ident)
    cached = df[df["source"].eq("cached").fillna(False)].groupby("run_id")["metric"].agg(
        lambda m: ", ".join(sorted(set(m))))
    ident["cached"] = cached.reindex(ident.index).fillna("")
    ident["kind"] = kind_label(ident["kind"])
    ident["versions"] = versions_label(ident.pop("framework_versions"))
    micro_obs = micro_repeats(df).join(ident["images"], on="run_id")
    micro_obs = micro_obs.assign(s_per_img=micro_obs["share_s"] / micro_obs["images"],
                                 img_per_s=micro_obs["images"] / micro_obs["share_s"])
    obs = pd.concat([repeats(df), micro_obs]).groupby("run_id").agg(
        s_per_img=("s_per_img", "median"), img_per_s=("img_per_s", "median"),
        peak_rss_mib=("peak_rss_mib", "max"), mib_per_img=("mib_per_img", "median"),
        online_mib_per_img=("online_mib_per_img", "median"),
        offline_mib_per_img=("offline_mib_per_img", "median"),
        dealer_rss_mib=("dealer_rss_mib", "max"),
        rounds_per_img=("rounds_per_img", "median"),
    )
    run_rows = usable(df[(df["rank"] < 0) & df["metric"].isin(list(RUN_AGG))])
    metrics = run_rows.pivot_table(index="run_id", columns="metric", values="value",
                                   aggfunc="first")
    out = ident.join(obs).join(metrics.reindex(columns=list(RUN_AGG))).reset_index()
    micro_runs = is_micro(out)
    out["dtype"] = out["dtype"].fillna("?").astype(str).where(micro_runs, "")
    # a micro-benchmark's ratio is share time over torch's load time (see :func:`.micro.micro`)
    out["slowdown"] = (out["s_per_img"] / plaintext_reference(out)).where(~micro_runs)
    return out.sort_values("timestamp", ignore_index=True)[RUN_COLUMNS]
