"""The report's secure-training section: time per epoch against the party count, the
slowdown against plaintext SGD timed in the same run, the loss curves and the accuracy
after the run's steps (rows of ``mpcbench train-secure``; see
:mod:`mpcbench.launch.workloads.training`)."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..metrics import TRAIN_STEP
from ..results.labels import cell_label
from ..results.summary import is_training, usable
from .figures import FigureSpec

#: run-level figures of a training run, in the order the table shows them
_PER_RUN = ["s_per_step", "plain_s_per_step", "s_per_epoch", "plain_s_per_epoch", "slowdown",
            "accuracy", "plain_accuracy", "agreement", "max_abs_err"]
_KEYS = ["run_id", "system", "model", "dataset", "parties", "batch"]
#: the reference study's secure CrypTen training of its 5-layer MLP on MNIST at 2 parties:
#: "30-60 mins for a single epoch of 60000 training images" (about 30 s in plaintext)
STUDY_MLP_EPOCH_S = (30 * 60.0, 60 * 60.0)


def _training(df: pd.DataFrame) -> pd.DataFrame:
    rows = usable(df)
    rows = rows[is_training(rows)].copy()
    rows["system"] = cell_label(rows)
    return rows


def runs(df: pd.DataFrame) -> pd.DataFrame:
    """One row per training run: its case, steps, training images (one epoch), the
    figures of :data:`_PER_RUN`, whether its time per epoch was measured or extrapolated,
    and the first and last loss (secure and plaintext)."""
    rows = _training(df)
    if rows.empty:
        return pd.DataFrame(columns=[*_KEYS, "steps", "train_images", "epoch_source",
                                     *_PER_RUN])
    spec = rows.groupby("run_id")["identity"].first().map(
        lambda text: json.loads(text)["case"]["training"])
    out = rows.groupby("run_id")[_KEYS[1:]].first()
    out["steps"] = spec.map(lambda s: s["steps"])
    out["train_images"] = spec.map(lambda s: s["train_images"])
    run = rows[rows["rank"] < 0]
    totals = run[run["phase"] == "total"]
    out = out.join(totals.pivot_table(index="run_id", columns="metric", values="value",
                                      aggfunc="first").reindex(columns=_PER_RUN))
    out["epoch_source"] = totals[totals["metric"] == "s_per_epoch"].set_index("run_id")[
        "source"].reindex(out.index)
    curve = run[run["phase"] == TRAIN_STEP].sort_values("repeat")
    ends = curve.groupby(["run_id", "metric"])["value"].agg(["first", "last"]).unstack("metric")
    for metric in ("loss", "plain_loss"):
        for end in ("first", "last"):
            out[f"{metric}_{end}"] = ends.get((end, metric))
    return out.reset_index().sort_values(["model", "parties", "system"], ignore_index=True)


def curves(df: pd.DataFrame) -> pd.DataFrame:
    """The loss of every step of every training run, secure and plaintext, long format."""
    rows = _training(df)
    curve = rows[(rows["rank"] < 0) & (rows["phase"] == TRAIN_STEP)
                 & rows["metric"].isin(["loss", "plain_loss"])]
    return curve.assign(
        step=curve["repeat"].astype(int),
        training=curve["metric"].map({"loss": "secure", "plain_loss": "plaintext"}),
        run=curve["system"] + " n=" + curve["parties"].astype(str) + " b="
        + curve["batch"].astype(str),
    )[["run_id", "run", "model", "dataset", "parties", "step", "training", "value"]]


def epoch_figure(table: pd.DataFrame) -> Figure | None:
    """Time per epoch against parties (secure, and the plaintext SGD of the same runs) and
    the slowdown, one column per model."""
    data = table.dropna(subset=["s_per_epoch"])
    if data.empty:
        return None
    long = pd.concat([
        data.assign(training=data["system"] + " (" + data["epoch_source"] + ")",
                    seconds=data["s_per_epoch"]),
        data.assign(training="plaintext SGD", seconds=data["plain_s_per_epoch"]),
    ])
    models = sorted(data["model"].unique())
    fig, axes = plt.subplots(2, len(models), figsize=(4.2 * len(models), 6.4), squeeze=False)
    for col, model in enumerate(models):
        part = long[long["model"] == model].astype({"parties": float, "seconds": float})
        sns.lineplot(data=part, x="parties", y="seconds", hue="training", style="training",
                     markers=True, estimator="median", errorbar=None, ax=axes[0, col])
        if model == "mlp":
            axes[0, col].axhspan(*STUDY_MLP_EPOCH_S, color="0.85", zorder=0,
                                 label="reference study, 2 parties")
            axes[0, col].legend(fontsize="small")
        axes[0, col].set(yscale="log", title=model, ylabel="s / epoch", xlabel="")
        sub = data[data["model"] == model].astype({"parties": float, "slowdown": float})
        sns.lineplot(data=sub, x="parties", y="slowdown", hue="system", style="system",
                     markers=True,
                     estimator="median", errorbar=None, ax=axes[1, col])
        axes[1, col].set(ylabel="slowdown vs plaintext SGD", xlabel="parties")
        ticks = sorted(data["parties"].astype(int).unique())
        for ax in axes[:, col]:
            ax.set_xticks(ticks)
    fig.tight_layout()
    return fig


def loss_figure(curve: pd.DataFrame) -> Figure | None:
    """Loss per step, secure (solid) next to plaintext SGD (dashed), one panel per model."""
    if curve.empty:
        return None
    data = curve.astype({"step": float, "value": float})
    g = sns.relplot(data=data, x="step", y="value", hue="run", style="training",
                    style_order=["secure", "plaintext"], col="model", kind="line",
                    markers=True, height=3.4, aspect=1.2, facet_kws={"sharey": False})
    g.set(ylabel="cross-entropy loss (nats)", xlabel="SGD step")
    for ax in g.axes.flat:
        ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
    return g.figure


def figure_specs(table: pd.DataFrame, df: pd.DataFrame) -> list[FigureSpec]:
    """The section's figures, drawn from :func:`runs` ``table`` and the rows ``df``."""
    curve = curves(df)
    return [
        FigureSpec("training_epoch", "Secure training: time per epoch and slowdown",
                   "Top: seconds per epoch of the run's training images against the number "
                   "of parties (median over runs; the legend says whether the secure time "
                   "was measured over an epoch or extrapolated from the steps), and "
                   "plaintext torch SGD of the same steps timed in the same runs. Bottom: "
                   "secure time per step over plaintext time per step. Grey band (mlp): the "
                   "reference study's 30-60 minutes per epoch of its secure MLP training at 2 "
                   "parties.",
                   lambda _: epoch_figure(table)),
        FigureSpec("training_loss", "Secure training: loss per step",
                   "Cross-entropy loss before each SGD step: opened to the model owner "
                   "(secure, CrypTen's fixed-point softmax and logarithm) and of plaintext "
                   "SGD on the same batches from the same initial weights (dashed).",
                   lambda _: loss_figure(curve)),
    ]
