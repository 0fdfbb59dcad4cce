"""The report's figures, all drawn with seaborn from the tables of :mod:`.summary`.

Each figure function takes the prepared tables and returns a matplotlib figure, or
``None`` when the results hold nothing to draw. Baselines (plaintext, complex, feedback,
...) share the axes of the MPC frameworks wherever they have the metric; on the
"vs parties" figures a baseline is drawn as a dashed reference across the party counts
its model was measured at.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..results.network import ACROSS as _ACROSS
from ..results.summary import CACHED_SUFFIX, CELL, PHASE_ORDER

#: error bars over repeats: the inter-quartile range around the median
IQR = ("pi", 50)
_DASHES = {"MPC": "", "plaintext": (1, 1), "baseline": (4, 2)}
_ACCURACY_METRICS = ["accuracy", "agreement", "accuracy_noisy", "accuracy_fgsm", "accuracy_pgd"]


@dataclass(frozen=True)
class Tables:
    """Inputs of the figures (see :mod:`.summary`)."""

    repeats: pd.DataFrame
    summary: pd.DataFrame
    phases: pd.DataFrame
    run_rows: pd.DataFrame
    micro: pd.DataFrame
    #: per cell and network (:func:`mpcbench.results.network.by_network`)
    network: pd.DataFrame
    #: colour of every ``system``, the same in all figures
    palette: dict[str, tuple]


@dataclass(frozen=True)
class FigureSpec:
    """A figure of the report: file name, title, caption and how to draw it."""

    name: str
    title: str
    caption: str
    draw: Callable[[Tables], Figure | None]


def theme() -> None:
    """The look shared by every figure."""
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.95)


def palette(systems: pd.Series) -> dict[str, tuple]:
    """One colour per system name, stable across figures."""
    names = sorted(pd.unique(systems.dropna().astype(str)))
    return dict(zip(names, sns.color_palette("tab10", len(names)), strict=True))


def _readable_log(g: sns.FacetGrid) -> None:
    """Label log axes with plain numbers (1-2-5 steps when the range is narrow)."""
    for ax in g.axes.flat:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() != "log":
                continue
            lo, hi = axis.get_view_interval()
            narrow = hi > 0 and lo > 0 and math.log10(hi / lo) <= 3
            axis.set_major_locator(mticker.LogLocator(subs=(1.0, 2.0, 5.0) if narrow else (1.0,)))
            axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(mticker.NullFormatter())


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Numpy dtypes (seaborn and matplotlib dislike pandas' nullable ones)."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            continue
        if pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].astype("float64")
        else:
            out[col] = out[col].astype(object)
    return out


def _broadcast_baselines(frame: pd.DataFrame) -> pd.DataFrame:
    """Repeat baseline rows at every party count measured for MPC in the same facet."""
    mpc = frame[frame["kind"] == "MPC"]
    counts = mpc.groupby(["model", "dataset"])["parties"].unique()
    parts = [mpc]
    for key, grp in frame[frame["kind"] != "MPC"].groupby(["model", "dataset"]):
        ns = counts.get(key)
        parts += [grp] if ns is None else [grp.assign(parties=n) for n in ns]
    return pd.concat(parts, ignore_index=True)


def _one_batch(frame: pd.DataFrame) -> pd.DataFrame:
    """Per system, model and dataset, the rows of the batch size measured at most party counts
    (ties: the larger batch), so a line never mixes batch sizes."""
    keys = ["system", "model", "dataset"]
    counts = frame.groupby([*keys, "batch"])["parties"].nunique().reset_index(name="n")
    best = counts.sort_values(["n", "batch"]).groupby(keys).tail(1)[[*keys, "batch"]]
    return frame.merge(best, on=[*keys, "batch"])


def _facets(frame: pd.DataFrame) -> dict[str, str]:
    facets = {"col": "model"}
    if frame["dataset"].nunique() > 1:
        facets["row"] = "dataset"
    return facets


def _vs_parties(frame: pd.DataFrame, colours: dict[str, tuple], y: str, ylabel: str,
                log: bool = True) -> Figure | None:
    data = _plain(frame.dropna(subset=[y, "parties"]))
    if log:
        data = data[data[y] > 0]
    if data.empty:
        return None
    data = _broadcast_baselines(_one_batch(data))
    g = sns.relplot(
        data=data, x="parties", y=y, hue="system", style="kind", kind="line",
        estimator="median", errorbar=IQR, err_style="bars", markers=True,
        dashes=_DASHES, style_order=[k for k in _DASHES if k in set(data["kind"])],
        palette=colours, height=3.6, aspect=1.15,
        facet_kws={"sharey": False}, **_facets(data),
    )
    ticks = sorted(data["parties"].unique())
    g.set(xticks=ticks, xlabel="parties")
    if log:
        g.set(yscale="log")
        _readable_log(g)
    g.set_ylabels(ylabel)
    return g.figure


def time_per_image(t: Tables) -> Figure | None:
    return _vs_parties(t.repeats, t.palette, "s_per_img", "seconds per image")


def peak_memory(t: Tables) -> Figure | None:
    return _vs_parties(t.repeats, t.palette, "peak_rss_mib", "peak RSS per party (MiB)", log=False)


def communication(t: Tables) -> Figure | None:
    return _vs_parties(t.repeats, t.palette, "mib_per_img", "MiB sent per image (all parties)")


def rounds(t: Tables) -> Figure | None:
    return _vs_parties(t.repeats, t.palette, "rounds_per_img", "rounds per image")


def time_vs_delay(t: Tables) -> Figure | None:
    data = t.network[t.network["kind"] == "MPC"].dropna(subset=["s_per_img", "delay_s"])
    data = data.assign(delay_ms=data["delay_s"] * 1e3)
    data = data[data.groupby([*_ACROSS, "series"], dropna=False)["network"]
                .transform("nunique") > 1]
    if data.empty:
        return None
    colours = {s: t.palette.get(s, c) for s, c in zip(
        sorted(data["series"].unique()), sns.color_palette("tab10", data["series"].nunique()),
        strict=True)}
    g = sns.relplot(
        data=_plain(data), x="delay_ms", y="s_per_img", hue="series", style="parties",
        kind="line", markers=True, palette=colours, height=3.6, aspect=1.15,
        facet_kws={"sharey": False}, **_facets(data),
    )
    g.set(xscale="symlog", yscale="log")
    for ax in g.axes.flat:
        ax.set_xscale("symlog", linthresh=0.1)
    _readable_log(g)
    g.set_axis_labels("one-way delay [ms] (0: loopback)", "seconds per image")
    return g.figure


def slowdown(t: Tables) -> Figure | None:
    cells = t.summary.dropna(subset=["slowdown"])
    ref = cells["s_per_img"] / cells["slowdown"]
    obs = t.repeats.merge(cells[CELL].assign(ref=ref.to_numpy()), on=CELL, how="inner")
    obs = obs.assign(slowdown=obs["s_per_img"] / obs["ref"])
    return _vs_parties(obs, t.palette, "slowdown", "slowdown vs plaintext (times)")


def throughput(t: Tables) -> Figure | None:
    data = _plain(t.repeats.dropna(subset=["img_per_s", "batch"]))
    if data.empty:
        return None
    data["parties"] = "n=" + data["parties"].map("{:.0f}".format)
    g = sns.relplot(
        data=data, x="batch", y="img_per_s", hue="system", style="parties", kind="line",
        estimator="median", errorbar=IQR, err_style="bars", markers=True, dashes=False,
        palette=t.palette, height=3.6, aspect=1.15,
        facet_kws={"sharey": False}, **_facets(data),
    )
    g.set(xscale="log", yscale="log", xlabel="batch size")
    _readable_log(g)
    g.set(xticks=sorted(data["batch"].unique()))
    g.set_ylabels("images per second")
    return g.figure


def phase_breakdown(t: Tables) -> Figure | None:
    data = _plain(t.phases.dropna(subset=["s_per_img"]))
    if data.empty:
        return None
    data["cell"] = data["system"] + " n=" + data["parties"].map("{:.0f}".format) + \
        " b=" + data["batch"].map("{:.0f}".format)
    data = data.sort_values(["kind", "system", "parties", "batch"], ascending=[False, True, True,
                                                                                 True])
    phases = [p for p in PHASE_ORDER if p in set(data["phase"])]
    data["phase"] = pd.Categorical(data["phase"].astype(str), categories=phases, ordered=True)
    g = sns.displot(
        data=data, y="cell", weights="s_per_img", hue="phase", hue_order=phases,
        multiple="stack", discrete=True, shrink=0.8, palette="Set2", height=3.2, aspect=1.6,
        facet_kws={"sharey": False, "sharex": False}, **_facets(data),
    )
    g.set_axis_labels("seconds per image (median; setup once per run)", "")
    return g.figure


def accuracy(t: Tables) -> Figure | None:
    rows = t.run_rows[t.run_rows["metric"].isin(_ACCURACY_METRICS)]
    data = _plain(rows.dropna(subset=["value"]))
    if data.empty:
        return None
    cached = data["source"].eq("cached") if "source" in data else False
    data["metric"] = data["metric"].where(~cached, data["metric"] + CACHED_SUFFIX)
    metrics = [m + tail for m in _ACCURACY_METRICS for tail in ("", CACHED_SUFFIX)
               if m + tail in set(data["metric"])]
    g = sns.catplot(
        data=data.sort_values("system"), x="system", y="value", hue="metric", hue_order=metrics,
        kind="bar", errorbar=None, palette="Set2", height=3.6, aspect=1.3, sharex=False,
        **_facets(data),
    )
    g.set(ylim=(0, 1.08))
    g.set_axis_labels("", "ratio of test images")
    for ax in g.axes.flat:
        for bars in ax.containers:
            ax.bar_label(bars, fmt="%.3f", fontsize=7, rotation=90, padding=2)
    return g.figure


def micro_share(t: Tables) -> Figure | None:
    if t.micro.empty:
        return None
    measures = {"load_s": "time to load (s)", "share_s": "time to share (s)",
                "peak_rss_mib": "peak RSS per party (MiB)"}
    data = _plain(t.micro.melt(
        id_vars=["system", "dtype", "run_id", "repeat"], value_vars=list(measures),
        var_name="measure", value_name="value",
    ).dropna(subset=["value"]))
    data["measure"] = data["measure"].map(measures)
    g = sns.catplot(
        data=data, x="system", y="value", hue="dtype", col="measure",
        col_order=[m for m in measures.values() if m in set(data["measure"])], kind="bar",
        estimator="median", errorbar=IQR, palette="Set2", sharey=False, height=3.4, aspect=1.0,
    )
    g.set_titles("{col_name}")
    g.set_axis_labels("", "")
    return g.figure


FIGURES = [
    FigureSpec("time_per_image", "Time per image vs parties",
               "Median seconds per image over repeats (error bars: inter-quartile range), "
               "log scale; dashed: baselines measured without MPC. On every \"vs parties\" "
               "figure a system is shown at one batch size (the one measured at most party "
               "counts); the throughput figure shows all batch sizes.", time_per_image),
    FigureSpec("slowdown_vs_plaintext", "Slowdown vs plaintext",
               "Time per image divided by the median plaintext time per image of the same "
               "model, dataset and batch size, measured in the same results.", slowdown),
    FigureSpec("throughput_vs_batch", "Throughput vs batch size",
               "Median images per second over repeats, by batch size; marker style shows "
               "the number of parties.", throughput),
    FigureSpec("peak_memory_vs_parties", "Peak memory per party vs parties",
               "Peak resident set size of the largest party during the timed phases (the "
               "kernel's high-water mark, reset at each phase start: exact, not sampled).",
               peak_memory),
    FigureSpec("communication_vs_parties", "Communication vs parties",
               "MiB sent per image, summed over all parties (frameworks that do not "
               "communicate are omitted from the log scale).", communication),
    FigureSpec("rounds_vs_parties", "Communication rounds vs parties",
               "Rounds per image (max over parties). A framework that does not count its "
               "rounds (MPyC) is missing here, not drawn at 0.", rounds),
    FigureSpec("time_vs_delay", "Time per image vs network delay",
               "Median seconds per image of each MPC framework against the one-way delay of "
               "the network its parties talked over (0: this machine's loopback; emulated "
               "networks: every party its own host). Marker style shows the parties.",
               time_vs_delay),
    FigureSpec("phase_breakdown", "Phase breakdown",
               "Median seconds per image of each phase (max over parties), stacked. Setup "
               "is paid once per run and is divided by the images of one repeat.",
               phase_breakdown),
    FigureSpec("accuracy_agreement", "Accuracy and agreement",
               "Test accuracy of each system and agreement of its predictions with "
               "plaintext; baselines add their robustness metrics (those read from the "
               "evaluation cache rather than measured in the run are labelled cached).",
               accuracy),
]

SHARING_FIGURE = FigureSpec(
    "micro_share", "Time and memory to share the image tensor",
    "Loading the images as a torch tensor and secret-sharing / encrypting it, per framework "
    "and dtype: median time over repeats (error bars: IQR) and peak RSS of the largest party.",
    micro_share,
)


def close(fig: Figure) -> None:
    """Free a figure's memory."""
    plt.close(fig)
