"""The report's figures, all drawn with seaborn from the tables of :mod:`.summary`.

Each figure function takes the prepared tables and returns a matplotlib figure, or
``None`` when the results hold nothing to draw. Baselines (plaintext, complex, feedback,
...) share the axes of the MPC frameworks wherever they have the metric; on the
"vs parties" figures a baseline is drawn as a dashed reference across the party counts
its model was measured at.

Line figures draw one line per series (a framework with its variant and settings, see
:func:`mpcbench.results.labels.series_label`) across party counts, and mark each point
with its security setting (:data:`MARKERS`); the legend explains colours, line styles
and markers. :func:`render` draws a figure and makes sure no two tick labels of an axis
overlap before it is saved.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import Bbox

from ..results import labels, micro, summary
from ..results.network import ACROSS as _ACROSS
from ..results.summary import CACHED_SUFFIX, CELL, PHASE_ORDER

#: error bars over repeats: the inter-quartile range around the median
IQR = ("pi", 50)
_DASHES = {"MPC": "", "plaintext": (1, 1), "baseline": (4, 2)}
_ACCURACY_METRICS = ["accuracy", "agreement", "accuracy_noisy", "accuracy_fgsm", "accuracy_pgd"]
#: marker of each security setting (:func:`mpcbench.results.labels.security_tag`)
MARKERS = {labels.NO_PRIVACY: "X", labels.TFP_DEALER: "s", labels.TTP_DEALER: "D",
           labels.HONEST_MAJORITY: "o", labels.DISHONEST_MAJORITY: "^", labels.NO_MPC: "."}
_OTHER_MARKER = "P"
#: line styles of party counts where parties is not the x axis
_PARTY_DASHES = ["", (4, 1.5), (1, 1), (5, 1, 1, 1), (8, 2), (2, 2, 6, 2)]
#: how often :func:`fit_tick_labels` may enlarge a figure before it gives up
_MAX_GROWTH = 4


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


def palette(series: pd.Series) -> dict[str, tuple]:
    """One colour per series name, stable across figures."""
    names = sorted(pd.unique(series.dropna().astype(str)))
    return dict(zip(names, sns.color_palette("tab10", len(names)), strict=True))


def inputs(df: pd.DataFrame, cells: pd.DataFrame, phases: pd.DataFrame,
           per_network: pd.DataFrame, obs: pd.DataFrame | None = None) -> Tables:
    """The figures' inputs from the tidy rows ``df`` and the tables the report already
    holds: its summary ``cells``, ``phases``, the per-network table and the repeats
    ``obs`` (:func:`~mpcbench.results.summary.repeats`, computed here when not given)."""
    repeats = summary.repeats(df) if obs is None else obs
    run_rows = summary.run_level(df)
    colours = palette(pd.concat([repeats["series"], phases["series"], run_rows["series"]]))
    return Tables(repeats, cells, phases, run_rows, micro.micro_repeats(df), per_network,
                  colours)


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
    """Per series, model and dataset, the rows of the batch size measured at most party counts
    (ties: the larger batch), so a line never mixes batch sizes."""
    keys = ["series", "model", "dataset"]
    counts = frame.groupby([*keys, "batch"])["parties"].nunique().reset_index(name="n")
    best = counts.sort_values(["n", "batch"]).groupby(keys).tail(1)[[*keys, "batch"]]
    return frame.merge(best, on=[*keys, "batch"])


def _facets(frame: pd.DataFrame) -> dict[str, str]:
    facets = {"col": "model"}
    if frame["dataset"].nunique() > 1:
        facets["row"] = "dataset"
    return facets


def _line(colour: object, dash: object = "", marker: str = "") -> Line2D:
    """A legend handle: a line of ``colour`` and ``dash`` (solid: ``""``) or a marker."""
    return Line2D([], [], color=colour, marker=marker or None, markersize=7,
                  linestyle="none" if marker else "-", linewidth=1.8,
                  **({"dashes": dash} if dash and not marker else {}))


def _mark_security(g: sns.FacetGrid, x: str, y: str, colours: dict[str, tuple],
                   style: str) -> list[str]:
    """Draw every point of every line (median of ``y`` per series, ``style``, security
    and ``x``) with the marker of its security setting; return the settings drawn."""
    drawn = set()
    for (i, j, _), sub in g.facet_data():
        if sub.empty:
            continue
        ax = g.facet_axis(i, j)
        points = sub.groupby(["series", style, "security", x])[y].median().reset_index()
        for tag, pts in points.groupby("security"):
            marker = MARKERS.get(tag, _OTHER_MARKER)
            ax.scatter(pts[x], pts[y], marker=marker, s=22 if marker == "." else 42,
                       c=[colours[s] for s in pts["series"]], edgecolors="white",
                       linewidths=0.6, zorder=3)
            drawn.add(tag)
    return sorted(drawn, key=lambda tag: list(MARKERS).index(tag) if tag in MARKERS else 99)


def _series_lines(data: pd.DataFrame, x: str, y: str, colours: dict[str, tuple], style: str,
                  dashes: dict, **kwargs: object) -> sns.FacetGrid:
    """``y`` against ``x``: one line per series (colour) and value of ``style`` (line
    style: ``dashes``), every point marked by its security setting (:data:`MARKERS`),
    with a legend of the three. ``data`` has columns ``series`` and ``security``."""
    series = sorted(data["series"].unique())
    g = sns.relplot(
        data=data, x=x, y=y, hue="series", hue_order=series, style=style,
        style_order=list(dashes), dashes=dashes, kind="line", markers=False, legend=False,
        palette=colours, height=3.6, aspect=1.15, facet_kws={"sharey": False},
        **_facets(data), **kwargs,
    )
    tags = _mark_security(g, x, y, colours, style)
    # a series is drawn in its style when it has one value of it (vs parties: its kind)
    one = data.groupby("series")[style].agg(lambda v: v.iloc[0] if v.nunique() == 1 else None)
    entries: dict[tuple[str, str], object] = {("", "framework / variant"): Patch(visible=False)}
    entries |= {("series", s): _line(colours[s], dashes.get(one[s], "")) for s in series}
    if style == "parties":
        entries[("", "parties (line style)")] = Patch(visible=False)
        entries |= {("parties", f"n={p:g}"): _line("0.35", d) for p, d in dashes.items()}
    shown = [t for t in tags if t != labels.NO_MPC]
    if shown:
        entries[("", "security (marker)")] = Patch(visible=False)
        entries |= {("security", t): _line("0.35", marker=MARKERS.get(t, _OTHER_MARKER))
                    for t in shown}
    g.add_legend(legend_data=entries, label_order=list(entries), title="",
                 adjust_subtitles=True)
    return g


def _party_dashes(parties: pd.Series) -> dict:
    """A line style per party count, in order."""
    counts = sorted(parties.unique())
    return {n: _PARTY_DASHES[i % len(_PARTY_DASHES)] for i, n in enumerate(counts)}


def _vs_parties(frame: pd.DataFrame, colours: dict[str, tuple], y: str, ylabel: str,
                log: bool = True) -> Figure | None:
    data = _plain(frame.dropna(subset=[y, "parties"]))
    if log:
        data = data[data[y] > 0]
    if data.empty:
        return None
    data = _broadcast_baselines(_one_batch(data))
    g = _series_lines(data, "parties", y, colours, "kind",
                      {k: d for k, d in _DASHES.items() if k in set(data["kind"])},
                      estimator="median", errorbar=IQR, err_style="bars")
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
    data = data.assign(delay_ms=data["delay_s"] * 1e3, security=labels.security_tag(data))
    data = data[data.groupby([*_ACROSS, "series"], dropna=False)["network"]
                .transform("nunique") > 1]
    if data.empty:
        return None
    colours = {s: t.palette.get(s, c) for s, c in zip(
        sorted(data["series"].unique()), sns.color_palette("tab10", data["series"].nunique()),
        strict=True)}
    data = _plain(data)
    g = _series_lines(data, "delay_ms", "s_per_img", colours, "parties",
                      _party_dashes(data["parties"]))
    g.set(xscale="symlog", yscale="log")
    for ax in g.axes.flat:
        ax.set_xscale("symlog", linthresh=0.1)
        ax.autoscale_view()
        ax.set_xlim(left=-0.03)  # no negative delays: loopback (0) at the left edge
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
    g = _series_lines(data, "batch", "img_per_s", t.palette, "parties",
                      _party_dashes(data["parties"]), estimator="median", errorbar=IQR,
                      err_style="bars")
    g.set(xscale="log", yscale="log", xlabel="batch size")
    _readable_log(g)
    g.set(xticks=sorted(data["batch"].unique()))
    g.set_ylabels("images per second")
    return g.figure


def phase_breakdown(t: Tables) -> Figure | None:
    data = _plain(t.phases.dropna(subset=["s_per_img"]))
    if data.empty:
        return None
    data["cell"] = data["series"] + " n=" + data["parties"].map("{:.0f}".format) + \
        " b=" + data["batch"].map("{:.0f}".format) + \
        data["security"].map(lambda tag: f" · {tag}" if tag else "")
    data = data.sort_values(["kind", "series", "parties", "batch"], ascending=[False, True, True,
                                                                                 True])
    phases = [p for p in PHASE_ORDER if p in set(data["phase"])]
    data["phase"] = pd.Categorical(data["phase"].astype(str), categories=phases, ordered=True)
    # a bar per cell, its label in full beside it
    height = max(3.2, 0.3 * data.groupby(list(_facets(data).values()))["cell"].nunique().max()
                 + 0.8)
    width = max(5.1, 3.5 + 0.08 * data["cell"].str.len().max())
    g = sns.displot(
        data=data, y="cell", weights="s_per_img", hue="phase", hue_order=phases,
        multiple="stack", discrete=True, shrink=0.8, palette="Set2", height=height,
        aspect=width / height, facet_kws={"sharey": False, "sharex": False},
        **_facets(data),
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
    # room above the bars for their values, below the facet titles
    g.set(ylim=(0, 1.25), yticks=[0, 0.2, 0.4, 0.6, 0.8, 1.0])
    g.set_axis_labels("", "ratio of test images")
    for ax in g.axes.flat:
        ax.tick_params(axis="x", labelrotation=90)
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
               "log scale; dashed: baselines measured without MPC. One line per framework "
               "and variant across party counts; its markers show the security setting at "
               "each point (t=0: no privacy, every party holds the values; TFP dealer: "
               "party 0 deals the randomness; TTP dealer: a process without inputs does). "
               "On every \"vs parties\" figure a series is shown at one batch size (the one "
               "measured at most party counts); the throughput figure shows all batch "
               "sizes.", time_per_image),
    FigureSpec("slowdown_vs_plaintext", "Slowdown vs plaintext",
               "Time per image divided by the median plaintext time per image of the same "
               "model, dataset and batch size, measured in the same results.", slowdown),
    FigureSpec("throughput_vs_batch", "Throughput vs batch size",
               "Median images per second over repeats, by batch size; line style shows "
               "the number of parties, markers the security setting.", throughput),
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
               "networks: every party its own host). Line style shows the parties, "
               "markers the security setting.",
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


def _tick_boxes(ax: Axes, which: str) -> list[Bbox]:
    """Window extents of the drawn tick labels of ``ax``'s ``which`` ("x" or "y") axis:
    visible, not empty, and at a tick inside the axes."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    frame = ax.get_window_extent()
    lo, hi = (frame.x0, frame.x1) if which == "x" else (frame.y0, frame.y1)
    boxes = []
    for label in axis.get_ticklabels():
        if not label.get_visible() or not label.get_text():
            continue
        box = label.get_window_extent()
        centre = (box.x0 + box.x1) / 2 if which == "x" else (box.y0 + box.y1) / 2
        if lo - 1 <= centre <= hi + 1:
            boxes.append(box)
    return boxes


def overlapping_ticks(fig: Figure) -> list[tuple[Axes, str]]:
    """Draw ``fig`` and return each axes and axis ("x", "y") where two tick labels
    overlap."""
    fig.canvas.draw()
    return [(ax, which) for ax in fig.axes for which in "xy"
            if any(a.overlaps(b) for a, b in combinations(_tick_boxes(ax, which), 2))]


def fit_tick_labels(fig: Figure, name: str) -> None:
    """Make sure no two tick labels of an axis of ``fig`` overlap: turn every x tick
    label of the figure upright (rotated 90°) where some overlap, then enlarge the
    figure along an axis whose labels still do (at most :data:`_MAX_GROWTH` times).
    Raises ``ValueError`` (naming figure ``name``) if they still overlap."""
    crowded = overlapping_ticks(fig)
    if any(which == "x" for _, which in crowded):
        for ax in fig.axes:
            ax.tick_params(axis="x", labelrotation=90)
        crowded = overlapping_ticks(fig)
    for _ in range(_MAX_GROWTH):
        if not crowded:
            break
        width, height = fig.get_size_inches()
        wider = any(which == "x" for _, which in crowded)
        taller = any(which == "y" for _, which in crowded)
        fig.set_size_inches(width * (1.5 if wider else 1), height * (1.5 if taller else 1))
        crowded = overlapping_ticks(fig)
    if crowded:
        ax, which = crowded[0]
        raise ValueError(f"figure {name}: tick labels of the {which} axis of "
                         f"{ax.get_title() or 'a panel'!r} overlap")


def render(spec: FigureSpec, tables: Tables) -> Figure | None:
    """Draw the figure of ``spec`` with no overlapping tick labels (:func:`fit_tick_labels`);
    ``None`` when there is nothing to draw."""
    fig = spec.draw(tables)
    if fig is not None:
        fit_tick_labels(fig, spec.name)
    return fig


def close(fig: Figure) -> None:
    """Free a figure's memory."""
    plt.close(fig)
