"""Where, when and under which security model the results were measured; what is missing.

Tables for the report's provenance and security sections, the failed runs and the
coverage of the registered frameworks (one without rows is listed as "not measured").
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd

from ..results import security as settings
from ..results.identity import system_name
from ..results.labels import kind_label, versions_label
from ..results.schema import first_rows
from ..results.summary import is_micro, is_mpc, security_notes, usable

GIB = 2**30

NOT_MEASURED = "not measured"


def _config(text: object) -> dict:
    """A run's ``backend_config`` JSON as a dict (empty when unset or unreadable)."""
    try:
        cfg = json.loads(text) if isinstance(text, str) else {}
    except json.JSONDecodeError:
        return {}
    return cfg if isinstance(cfg, dict) else {}


def _pairs(items: dict) -> str:
    return "; ".join(f"{k}: {v}" for k, v in items.items())


def _describe(column: pd.Series, part: Callable[[dict], dict]) -> pd.Series:
    """``part`` of every row's backend config as ``key: value; ...`` text."""
    text = {t: _pairs(part(_config(t))) for t in column.dropna().unique()}
    return pd.Series([text.get(t, "") if isinstance(t, str) else "" for t in column],
                     index=column.index, dtype=object)


def _per_run(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """First value of ``columns`` of every run (runs share these columns in all rows)."""
    return df.groupby("run_id", sort=False)[columns].first().reset_index()


def _count_runs(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    runs = _per_run(df, [*columns, "timestamp"])
    return (
        runs.groupby(columns, dropna=False)
        .agg(runs=("run_id", "nunique"), first=("timestamp", "min"), last=("timestamp", "max"))
        .reset_index()
    )


def machines(df: pd.DataFrame) -> pd.DataFrame:
    """Hosts the runs were made on: CPU model, cores, RAM (GiB), OS, number of runs, dates."""
    table = _count_runs(df, ["hostname", "cpu_model", "cpu_cores", "ram_bytes", "os"])
    table.insert(4, "ram_gib", (table.pop("ram_bytes").astype("float64") / GIB).round(1))
    return table


def versions(df: pd.DataFrame) -> pd.DataFrame:
    """Software the runs were made with: package versions and git commit (``+dirty``)."""
    df = first_rows(df)
    runs = _per_run(df, ["git_commit", "git_dirty"])
    dirty = runs["git_dirty"].fillna(False).astype(bool).map({True: "+dirty", False: ""})
    commit = runs["git_commit"].astype("string").str[:10].fillna("unknown") + dirty
    labelled = df.merge(runs[["run_id"]].assign(commit=commit.to_numpy()), on="run_id")
    labelled["framework_versions"] = versions_label(labelled["framework_versions"])
    return _count_runs(
        labelled,
        ["framework", "framework_versions", "mpcbench_version", "commit", "python_version",
         "torch_version", "numpy_version"],
    )


def runs(df: pd.DataFrame) -> pd.DataFrame:
    """One line per run: when, what, where, status and threads per party."""
    df = first_rows(df)
    table = _per_run(
        df.sort_values("timestamp"),
        ["timestamp", "case_id", "framework", "model", "dataset", "parties", "batch", "images",
         "hostname", "threads_per_party"],
    )
    bad = df[df["status"].fillna("ok").ne("ok")].groupby("run_id")["status"].first()
    table["status"] = [bad.get(run_id, "ok") for run_id in table["run_id"]]
    config = df.groupby("run_id")["backend_config"].first()
    table["config"] = _describe(table["run_id"].map(config),
                                lambda c: {k: v for k, v in c.items() if k != "security"})
    first = df.groupby("run_id")[["framework", "config", "oversubscribed", "contended",
                                  "case_fingerprint"]].first()
    table.insert(3, "system", table["run_id"].map(
        {r: system_name(str(f), c) for r, f, c in
         zip(first.index, first["framework"], first["config"], strict=True)}))
    table["options"] = table["run_id"].map(first["config"])
    table["oversubscribed"] = table["run_id"].map(first["oversubscribed"])
    table["contended"] = table["run_id"].map(first["contended"])
    table["fingerprint"] = table["run_id"].map(first["case_fingerprint"])
    return table


def run_dates(df: pd.DataFrame) -> dict[str, object]:
    """First and last run timestamp and the number of runs."""
    return {
        "first": df["timestamp"].min(),
        "last": df["timestamp"].max(),
        "runs": df["run_id"].nunique(),
    }


def security(df: pd.DataFrame) -> pd.DataFrame:
    """Security model of every MPC framework x parties: the setting (a tag) and what it
    protects (:mod:`mpcbench.results.security`), with warnings for weakened settings."""
    rows = first_rows(df[is_mpc(df)])
    said = settings.of_rows(rows).set_axis(rows["run_id"])
    rows = rows.assign(details=_describe(rows["backend_config"], lambda c: c.get("security", {})),
                       system=[system_name(str(f), c) for f, c in
                               zip(rows["framework"], rows["config"], strict=True)],
                       setting=rows["run_id"].map(said["security"]),
                       protects=rows["run_id"].map(said["security_sentence"]))
    cols = ["framework", "system", "parties", "setting", "protects", "threshold", "provider",
            "protocol", "adversary", "data_owners", "model_owner", "output", "kind", "details"]
    table = rows.groupby(cols, dropna=False).agg(runs=("run_id", "nunique")).reset_index()
    table["security_note"] = security_notes(table)
    return table.sort_values(["framework", "parties"], ignore_index=True)


def failures(df: pd.DataFrame) -> pd.DataFrame:
    """Runs with a failed, timed-out or skipped measurement, with their first error."""
    bad = df[df["status"].fillna("ok").ne("ok")]
    cols = ["timestamp", "case_id", "framework", "model", "dataset", "parties", "status", "error"]
    if bad.empty:
        return pd.DataFrame(columns=["run_id", *cols])
    return _per_run(bad.sort_values("timestamp"), cols)


def coverage(df: pd.DataFrame, expected: dict[str, str] | None = None) -> pd.DataFrame:
    """Every expected (``framework -> declared kind``) or measured framework: kind, cells,
    failed runs, or "not measured"."""
    expected = expected or {}
    frameworks = list(dict.fromkeys([*expected, *df["framework"].dropna().unique()]))
    ok = usable(df)
    ok = ok[~is_micro(ok)]
    declared = {**expected, **df.dropna(subset=["kind"]).groupby("framework")["kind"].first()}
    cells = ok[["framework", "model", "dataset", "parties", "batch"]].drop_duplicates()
    cells = cells.groupby("framework").size()
    failed = df[df["status"].fillna("ok").ne("ok")].groupby("framework")["run_id"].nunique()
    table = pd.DataFrame({"framework": frameworks})
    table["kind"] = kind_label(table["framework"].map(declared))
    table["cells"] = table["framework"].map(cells).fillna(0).astype(int)
    table["failed_runs"] = table["framework"].map(failed).fillna(0).astype(int)
    models = ok.groupby("framework")["model"].agg(lambda m: ", ".join(sorted(set(m))))
    table["models"] = [models.get(fw, "") for fw in frameworks]
    table["status"] = [
        "measured" if c else ("failed only" if f else NOT_MEASURED)
        for c, f in zip(table["cells"], table["failed_runs"], strict=True)
    ]
    return table
