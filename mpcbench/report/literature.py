"""The report's "Against the literature" section: published figures beside ours.

A published figure (:mod:`mpcbench.results.literature`) meets an MPC cell of the summary
with the same network (model), parties and batch whose ``network`` is the profile of the
figure's link setting (``none``, loopback, where the source states none). Each pair is one
row: both times per image and MB per party, our time over theirs, the source, and what
differs (hardware, protocol and security, what each side counts). It compares; it does
not judge. Figures without a matching cell are listed with the command that measures it.
"""

from __future__ import annotations

import pandas as pd

from ..results import summary
from ..results.literature import Figure, Literature

TITLE = "Against the literature"
NOTE = ("Published figures beside ours at the same network, parties, batch and link setting "
        "(the emulated-network profile of the setting the source states; loopback where it "
        "states none). Ours: median over repeats of the slowest party's share + infer + "
        "reveal per image, and bytes sent per image by all parties (online bytes beside an "
        "online figure) / parties / 10^6. The ratio divides our time by the published one; "
        "what each side counts, the hardware and the protocol differ as written in the row.")
#: machine columns every row carries (schema provenance)
_MACHINE = ["hostname", "cpu_model", "cpu_cores"]


def _setting(name: str | None, lit: Literature) -> str:
    if name is None:
        return "none (loopback; the source states no link setting)"
    link = lit.settings[name]
    rate = f", {link.rate_mbit:g} Mbit/s" if link.rate_mbit else ""
    return f"{name} (RTT {link.rtt_ms:g} ms{rate})"


def _machines(df: pd.DataFrame) -> pd.DataFrame:
    """Per cell, the machine recorded with its runs (launcher host, CPU, cores)."""
    rows = summary.usable(df)
    return rows.groupby(summary.CELL, dropna=False)[_MACHINE].first().reset_index()


def _ours_hardware(row: pd.Series) -> str:
    if pd.isna(row.get("cpu_model")) or not row.get("cpu_model"):
        return "this machine"
    cores = "" if pd.isna(row.get("cpu_cores")) else f", {int(row['cpu_cores'])} cores"
    return f"{row['hostname']} (the launcher's host): {row['cpu_model']}{cores}"


def _published(fig: Figure, lit: Literature) -> str:
    """``Falcon (total)``; an online figure also names its offline phase where published."""
    offline = [f"{fig.offline_s_per_img:g} s" if fig.offline_s_per_img else "",
               f"{fig.offline_mb_per_party:g} MB / party" if fig.offline_mb_per_party else ""]
    said = ", ".join(o for o in offline if o)
    return f"{lit.systems[fig.system].name} ({fig.phase}" + (
        f"; offline {said})" if said else ")")


def _ours_protocol(row: pd.Series) -> str:
    said = [str(row["protocol"]) if pd.notna(row.get("protocol")) else "protocol not recorded"]
    if pd.notna(row.get("threshold")):
        said.append(f"t={int(row['threshold'])}")
    if pd.notna(row.get("provider")) and str(row["provider"]) not in ("", "none"):
        said.append(f"randomness: {row['provider']}")
    if pd.notna(row.get("adversary")):
        said.append(str(row["adversary"]))
    return ", ".join(said)


def _matches(fig: Figure, cells: pd.DataFrame) -> pd.DataFrame:
    network = fig.link or "none"
    same = (cells["model"].eq(fig.model) & cells["parties"].eq(fig.parties)
            & cells["batch"].eq(fig.batch) & cells["network"].fillna("none").eq(network)
            & summary.is_mpc(cells))
    return cells[same.fillna(False).astype(bool)]


def table(cells: pd.DataFrame, df: pd.DataFrame, lit: Literature) -> pd.DataFrame:
    """One row per published figure x our matching cell (``cells``: the summary of
    ``df``); empty (with its columns) when no figure has a matching cell."""
    cells = cells.merge(_machines(df), on=summary.CELL, how="left")
    rows = []
    for fig in lit.figures:
        system, source = lit.systems[fig.system], lit.sources[fig.source]
        for _, ours in _matches(fig, cells).iterrows():
            mib = ours["online_mib_per_img"] if fig.phase == "online" else ours["mib_per_img"]
            our_mb = mib * summary.MIB / 1e6 / fig.parties
            rows.append({
                "network": fig.model, "parties": fig.parties, "batch": fig.batch,
                "setting": _setting(fig.link, lit),
                "published": _published(fig, lit),
                "published_s_per_img": fig.s_per_img,
                "published_mb_per_party": fig.mb_per_party,
                "ours": ours["system"], "our_dataset": ours["dataset"],
                "our_s_per_img": ours["s_per_img"], "our_mb_per_party": our_mb,
                "ratio": ours["s_per_img"] / fig.s_per_img,
                "source": source.cite(", ".join(fig.cells.values())),
                "hardware": f"published: {source.hardware}; ours: {_ours_hardware(ours)}",
                "protocol": f"{system.name}: {system.protocol}; {system.security}; "
                            f"ours: {_ours_protocol(ours)}",
                "counted": f"published: {system.counted}; ours: the slowest party's share "
                           f"+ infer + reveal, median of {int(ours['repeats'])} repeats",
            })
    columns = ["network", "parties", "batch", "setting", "published", "published_s_per_img",
               "published_mb_per_party", "ours", "our_dataset", "our_s_per_img",
               "our_mb_per_party", "ratio", "source", "hardware", "protocol", "counted"]
    return pd.DataFrame(rows, columns=columns)


#: source column -> (header, format) of the displayed table
HEADERS = {
    "network": ("network", ""), "parties": ("parties", ""), "batch": ("batch", ""),
    "setting": ("link setting", ""), "published": ("published", ""),
    "published_s_per_img": ("published s / image", "{:.3g}"),
    "published_mb_per_party": ("published MB / party", "{:.3g}"),
    "ours": ("ours", ""), "our_dataset": ("our dataset", ""),
    "our_s_per_img": ("our s / image", "{:.3g}"),
    "our_mb_per_party": ("our MB / party", "{:.3g}"),
    "ratio": ("ours ÷ published (time)", "{:.3g}\N{MULTIPLICATION SIGN}"),
    "source": ("source", ""), "hardware": ("hardware", ""), "protocol": ("protocol", ""),
    "counted": ("counted", ""),
}


def pending(cells: pd.DataFrame, lit: Literature) -> pd.DataFrame:
    """Per network, parties, batch and link setting with published figures but no
    matching cell in ``cells``: who published, and the command that measures ours
    (an emulated network needs root; ``-f mpyc`` likewise)."""
    waiting: dict[tuple, list[str]] = {}
    for fig in lit.figures:
        if _matches(fig, cells).empty:
            key = (fig.model, fig.dataset, fig.parties, fig.batch, fig.link)
            waiting.setdefault(key, []).append(lit.systems[fig.system].name)
    rows = [{
        "network": model, "parties": parties, "batch": batch,
        "setting": _setting(link, lit),
        "published": ", ".join(names),
        "command": f"mpcbench run -f crypten -m {model} -d {dataset} -n {parties} "
                   f"--batch {batch}" + (f" --network {link}" if link else ""),
    } for (model, dataset, parties, batch, link), names in waiting.items()]
    return pd.DataFrame(rows, columns=["network", "parties", "batch", "setting", "published",
                                       "command"])
