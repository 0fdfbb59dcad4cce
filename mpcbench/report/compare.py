"""Compare two sets of results cell by cell, metric by metric (``mpcbench compare A B``).

Marks follow airspeed velocity (asv): ``+`` worse, ``-`` better, ``~`` changed by more
than the factor but not significantly (the inter-quartile ranges over repeats overlap),
``x`` not comparable (what was measured differs: case, configuration or weights; code and
framework versions may differ, that is what is compared), ``!`` a new failure; blank:
unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..results import identity as ident
from ..results import store, summary
from ..results.labels import cell_label
from ..results.summary import is_micro

WORSE, BETTER, INSIGNIFICANT, INCOMPARABLE, FAILED, SAME = "+", "-", "~", "x", "!", ""


@dataclass(frozen=True)
class Metric:
    """How a summary metric is compared."""

    label: str
    unit: str
    #: True if a larger value is better
    higher_is_better: bool = False
    #: compare by absolute difference (ratios in [0, 1]) instead of by ratio
    absolute: bool = False


METRICS = {
    "s_per_img": Metric("time / image", "s"),
    "img_per_s": Metric("images / s", "img/s", higher_is_better=True),
    "peak_rss_mib": Metric("peak RSS / party", "MiB"),
    "mib_per_img": Metric("MiB sent / image", "MiB"),
    "offline_mib_per_img": Metric("offline MiB / image", "MiB"),
    "rounds_per_img": Metric("rounds / image", ""),
    "accuracy": Metric("accuracy", "", higher_is_better=True, absolute=True),
    "agreement": Metric("agreement", "", higher_is_better=True, absolute=True),
    "max_abs_err": Metric("max |logit err|", ""),
}
_PER_REPEAT = {"s_per_img", "img_per_s", "peak_rss_mib", "mib_per_img", "offline_mib_per_img",
               "rounds_per_img"}


def load_side(spec: str, results_dir: Path) -> pd.DataFrame:
    """Rows of one side: a results directory or file, else a run id (or unique prefix) in
    ``results_dir``."""
    path = Path(spec)
    if path.exists():
        df = store.load(path)
        if df.empty:
            raise InputError(f"no results in {path}")
        return df
    if not Path(results_dir).is_dir():
        raise InputError(f"{spec!r} is neither a results directory nor a run id in {results_dir}")
    ids = store.stored_run_ids(results_dir)  # from the file names: no file read yet
    matches = [i for i in ids if i == spec] or [i for i in ids if i.startswith(spec)]
    if len(matches) != 1:
        what = "no run" if not matches else f"{len(matches)} runs"
        raise InputError(f"{what} in {results_dir} match {spec!r}; give a run id or a directory")
    return store.load(results_dir, run_ids=matches)


def _stats(df: pd.DataFrame) -> pd.DataFrame:
    """Long table of one side: cell, metric, value (as in the summary), q25, q75, n."""
    table = summary.summary(df)
    table["cell"] = cell_label(table, self_contained=True)
    obs = summary.repeats(df)
    obs["cell"] = cell_label(obs, self_contained=True)
    parts = []
    for metric in METRICS:
        part = table[["cell", metric]].rename(columns={metric: "value"}).assign(metric=metric)
        if metric in _PER_REPEAT:
            spread = obs.groupby("cell")[metric].agg(
                q25=lambda s: s.quantile(0.25), q75=lambda s: s.quantile(0.75), n="count")
            part = part.merge(spread.reset_index(), on="cell", how="left")
        else:
            part = part.assign(q25=part["value"], q75=part["value"], n=1)
        parts.append(part)
    return pd.concat(parts, ignore_index=True).dropna(subset=["value"])


def _cells(df: pd.DataFrame) -> pd.DataFrame:
    """Per cell: its case fingerprints and first error of a non-ok row (if any)."""
    rows = df[~is_micro(df)].copy()
    rows["cell"] = cell_label(rows, self_contained=True)
    bad = rows["status"].fillna("ok").ne("ok")
    rows["error_text"] = rows["status"].where(bad).astype("string") + ": " + \
        rows["error"].fillna("").astype("string")
    rows["measured"] = _measurement_key(rows)
    return rows.groupby("cell").agg(
        fingerprints=("measured", lambda s: frozenset(s.dropna())),
        failure=("error_text", "first"),
    )


def _measurement_key(rows: pd.DataFrame) -> pd.Series:
    """Per row, what was measured: the identity without the code and framework versions
    (comparing those is what ``compare`` is for), i.e. case, configuration and weights;
    the stored fingerprint for rows without an identity."""
    def key(text: object, fallback: object) -> object:
        found = ident.loads(text)
        if found is None:
            return fallback
        return ident.fingerprint({k: found.get(k) for k in ("case", "config", "weights")})

    return pd.Series([key(t, f) for t, f in zip(rows["identity"], rows["case_fingerprint"],
                                                strict=True)], index=rows.index, dtype=object)


def _mark(row: pd.Series, factor: float, tolerance: float) -> str:
    m = METRICS[row["metric"]]
    a, b = row["value_a"], row["value_b"]
    if pd.isna(a) or pd.isna(b):
        return SAME
    changed = abs(b - a) > tolerance if m.absolute else not (1 / factor <= row["ratio"] <= factor)
    if not changed:
        return SAME
    spread = min(row["n_a"], row["n_b"]) >= 2
    overlap = row["q25_a"] <= row["q75_b"] and row["q25_b"] <= row["q75_a"]
    if spread and overlap:
        return INSIGNIFICANT
    return WORSE if (b > a) != m.higher_is_better else BETTER


def compare(a: pd.DataFrame, b: pd.DataFrame, factor: float = 1.1, tolerance: float = 0.01,
            metrics: list[str] | None = None) -> pd.DataFrame:
    """Changes from ``a`` to ``b``: one row per cell x metric (plus one per new failure).

    Columns ``cell, metric, value_a, value_b, ratio, mark, note``. Two single runs are
    compared with each other whatever their cells; otherwise cells are matched by
    framework, model, dataset, parties, batch, provider, threshold and configuration.
    """
    if factor <= 1:
        raise InputError(f"--factor must be > 1, got {factor}")
    unknown = sorted(set(metrics or []) - set(METRICS))
    if unknown:
        raise InputError(
            f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}")
    sa, sb = _stats(a), _stats(b)
    ca, cb = _cells(a), _cells(b)
    if a["run_id"].nunique() == 1 and b["run_id"].nunique() == 1 and len(ca) == len(cb) == 1:
        label_a, label_b = ca.index[0], cb.index[0]
        pair = label_a if label_a == label_b else f"{label_a} → {label_b}"
        sa["cell"], sb["cell"] = pair, pair
        ca, cb = ca.rename(index={label_a: pair}), cb.rename(index={label_b: pair})
    merged = sa.merge(sb, on=["cell", "metric"], how="outer", suffixes=("_a", "_b"))
    if metrics:
        merged = merged[merged["metric"].isin(metrics)]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = merged["value_b"] / merged["value_a"]
    merged["ratio"] = ratio.mask((merged["value_a"] == 0) & (merged["value_b"] == 0), 1.0)
    merged["mark"] = [_mark(r, factor, tolerance) for _, r in merged.iterrows()]
    merged["note"] = np.select(
        [merged["value_a"].isna(), merged["value_b"].isna()], ["only in B", "only in A"], "")
    fp_a, fp_b = ca["fingerprints"], cb["fingerprints"]
    incomparable = {c for c in fp_a.index.intersection(fp_b.index)
                    if fp_a[c] and fp_b[c] and fp_a[c] != fp_b[c]}
    sel = merged["cell"].isin(incomparable)
    merged.loc[sel, "mark"] = INCOMPARABLE
    merged.loc[sel, "note"] = "case fingerprint differs (case, configuration or weights)"
    failed_b = cb["failure"].dropna()
    new = [c for c in failed_b.index if pd.isna(ca["failure"].get(c, np.nan))]
    failures = pd.DataFrame({"cell": new, "metric": "status", "mark": FAILED,
                             "note": [str(failed_b[c]) for c in new]})
    out = pd.concat([merged, failures], ignore_index=True)
    order = {m: i for i, m in enumerate(["status", *METRICS])}
    out = out.sort_values(["cell", "metric"], key=lambda s: s.map(order) if s.name == "metric"
                          else s, ignore_index=True)
    return out[["cell", "metric", "value_a", "value_b", "ratio", "mark", "note"]]


def regressions(changes: pd.DataFrame) -> int:
    """Number of worse metrics and new failures."""
    return int(changes["mark"].isin([WORSE, FAILED]).sum())
