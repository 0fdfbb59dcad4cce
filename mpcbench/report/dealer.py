"""Where correlated randomness comes from, and what it costs: online vs offline traffic.

One row per MPC cell of the summary, side by side: the source of its correlated
randomness (a computing party such as CrypTen's TFP party 0, a dealer process of its own
such as CrypTen's TTP, or none: MPyC's PRSS), time per image, online MiB per image
(between computing parties), offline MiB per image (between the parties and a dealer,
both ways), their sum, the peak RSS of a party and of the dealer, and the dealer's CPU
per image. So a dealer-free protocol, one whose party 0 deals its own triples and one
with a separate dealer compare on the same bytes.
"""

from __future__ import annotations

import pandas as pd

from ..results import security
from ..results.summary import CELL, is_mpc

TITLE = "Correlated randomness: online vs offline traffic"
NOTE = ("Online: bytes the computing parties sent each other; offline: bytes between them "
        "and a dealer process, both ways (0 without one: CrypTen TFP deals at party 0, MPyC's "
        "PRSS needs no dealer; — where not told apart). Dealer RSS: the dealer process's "
        "peak; dealer CPU: its CPU time per image served (warm-up included). CrypTen TTP's "
        "party 0 also counts its requests to the dealer as rounds.")
#: column -> (header, format) of the displayed table
HEADERS = {
    "system": ("system", ""), "model": ("model", ""), "dataset": ("dataset", ""),
    "parties": ("parties", ""), "batch": ("batch", ""),
    "randomness": ("correlated randomness from", ""),
    "s_per_img": ("time / image [s]", "{:.3g}"),
    "online_mib_per_img": ("online MiB / image", "{:.3g}"),
    "offline_mib_per_img": ("offline MiB / image", "{:.3g}"),
    "mib_per_img": ("total MiB / image", "{:.3g}"),
    "peak_rss_mib": ("peak RSS / party [MiB]", "{:.0f}"),
    "dealer_rss_mib": ("dealer peak RSS [MiB]", "{:.0f}"),
    "dealer_cpu_s_per_img": ("dealer CPU / image [s]", "{:.3g}"),
}
COLUMNS = list(HEADERS)


def _source(backend_config: object, provider: object) -> str:
    """The run's security record's ``dealer`` (e.g. ``party 0 (trusted first party)``),
    else its provider."""
    dealer = security.extras(backend_config).get("dealer")
    return str(dealer) if dealer else str(provider)


def table(cells: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """The MPC cells of ``cells`` (:func:`mpcbench.results.summary.summary`) with the
    randomness source of their runs in ``df``."""
    mpc = df[is_mpc(df)]
    first = mpc.groupby(CELL, dropna=False)[["backend_config", "provider"]].first()
    sources = pd.Series([_source(c, p) for c, p in zip(first["backend_config"],
                                                        first["provider"], strict=True)],
                        index=first.index, name="randomness", dtype=object)
    out = cells[cells["kind"] == "MPC"].merge(sources.reset_index(), on=CELL, how="left")
    return out.reindex(columns=COLUMNS).reset_index(drop=True)
