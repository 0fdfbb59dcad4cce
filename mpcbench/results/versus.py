"""Head to head: which system is faster, by how much, at what traffic, under which
security setting.

From the summary table (:func:`.summary.summary`): for every model x dataset x parties x
network (a *group*) with at least one MPC cell, one row per cell of the group (a system:
framework and variant, with the other settings where they differ, at the batch size it
was measured with: suites choose one per framework) with its time, traffic, peak RSS and
rounds per image, each also as a ratio to the group's *reference* row: the fastest MPC
row or, with a ``baseline`` framework, that framework's fastest stock row (a group
without one keeps its fastest MPC row and says so in ``reference``).
Beside them: plaintext's time per image for the same model, dataset and batch (the
slowdown against it) and the security setting in words (:mod:`.security`). A value
that was not measured stays missing (NaN), and so does every ratio to it or to a
reference value of 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import identity, security
from .summary import is_mpc, plaintext_reference

#: what a group is (time per image compares across batch sizes; each row shows its own)
GROUP = ["model", "dataset", "parties", "network"]
#: measure -> the column of its ratio to the reference row
RATIOS = {"s_per_img": "time_ratio", "mib_per_img": "mib_ratio",
          "peak_rss_mib": "rss_ratio", "rounds_per_img": "rounds_ratio"}
#: the columns of :func:`table`, in order
COLUMNS = [*GROUP, "batch", "system", "framework", "settings", "security",
           *(c for pair in RATIOS.items() for c in pair),
           "plaintext_s_per_img", "slowdown", "reference", "is_reference", "security_sentence"]


def _reference(group: pd.DataFrame, baseline: str | None) -> tuple[pd.Series, str]:
    """The reference row of ``group`` (its ``name`` is its index) and how it was chosen,
    e.g. ``crypten (baseline)`` or ``mpyc+tuned (fastest MPC; no stock crypten here)``."""
    if baseline is not None:
        stock = group[(group["framework"] == baseline)
                      & group["config"].map(identity.variant).eq("stock")
                      & group["s_per_img"].notna()]
        if not stock.empty:
            row = stock.loc[stock["s_per_img"].idxmin()]
            return row, f"{row['system']} (baseline)"
    mpc = group[is_mpc(group)]
    timed = mpc[mpc["s_per_img"].notna()]
    row = timed.loc[timed["s_per_img"].idxmin()] if not timed.empty else mpc.iloc[0]
    missing = f"; no stock {baseline} here" if baseline is not None else ""
    return row, f"{row['system']} (fastest MPC{missing})"


def table(cells: pd.DataFrame, df: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """The head-to-head table (columns :data:`COLUMNS`) of the summary's ``cells`` of the
    rows ``df``; ratios to each group's fastest MPC row or, with ``baseline`` (a
    framework), to that framework's stock row where the group has one."""
    words = security.of_cells(cells, df)
    cells = cells.assign(security=words["security"],
                         security_sentence=words["security_sentence"],
                         plaintext_s_per_img=plaintext_reference(cells))
    out = []
    for _, group in cells.groupby(GROUP, dropna=False, sort=False):
        if not is_mpc(group).any():
            continue
        ref, said = _reference(group, baseline)
        ratios = {ratio: group[m] / (ref[m] if ref[m] != 0 else np.nan)
                  for m, ratio in RATIOS.items()}
        out.append(group.assign(**ratios, reference=said, is_reference=group.index == ref.name))
    if not out:
        return pd.DataFrame(columns=COLUMNS)
    found = pd.concat(out)
    order = ["model", "dataset", "network", "parties", "s_per_img"]
    return found.sort_values(order, na_position="last", ignore_index=True)[COLUMNS]


def settings(table: pd.DataFrame) -> list[tuple[str, str]]:
    """The security settings of :func:`table`'s rows, each once: (tag, sentence), the tag
    followed by its systems where it stands for several sentences (roles differ)."""
    said = table.drop_duplicates(["security", "security_sentence"])
    several = said["security"].duplicated(keep=False)
    out = []
    for tag, sentence, ambiguous in zip(said["security"], said["security_sentence"],
                                        several, strict=True):
        if ambiguous:
            systems = table.loc[table["security_sentence"] == sentence, "system"].unique()
            tag = f"{tag} ({', '.join(systems)})"
        out.append((tag, sentence))
    return out


def relative_to(baseline: str | None) -> str:
    """One line saying what the ratios of :func:`table` are relative to."""
    groups = " \N{MULTIPLICATION SIGN} ".join(GROUP)
    reference = (f"the fastest MPC row of each {groups}" if baseline is None else
                 f"the stock {baseline} row of each {groups} (a group without one: its "
                 "fastest MPC row, named in “reference”)")
    return (f"Ratios (\N{MULTIPLICATION SIGN}) are to {reference}; plaintext: its time per "
            "image for the same model, dataset and batch; \N{EM DASH}: not measured.")
