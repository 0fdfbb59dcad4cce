"""Write the report: ``index.html`` (self-contained) plus every figure as PNG/SVG and every
table as CSV in one output directory."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import jinja2
import pandas as pd

from .. import __version__
from ..errors import InputError
from ..results import labels, micro, network, store, summary, versus
from ..results.literature import load as load_literature
from . import dealer, figures, literature, privacy, provenance, robustness, roles, training
from .figures import FIGURES, SHARING_FIGURE, FigureSpec, Tables

_DASH = "\N{EM DASH}"
_TIMES = "\N{MULTIPLICATION SIGN}"
_TO = "\N{EN DASH}"
_NUMERIC = rf"[-+\d.,eE(){_TIMES}{_TO}{_DASH} ]+"


@dataclass
class Table:
    """A table of the report: raw data (written as CSV) and its formatted view."""

    #: a cell of more characters shows its first PREVIEW characters, the rest on a click
    FOLD: ClassVar[int] = 120
    PREVIEW: ClassVar[int] = 40
    #: characters in one line across the page (a column's padding counts two)
    LINE: ClassVar[int] = 190
    #: in a table wider than a line, a column with text longer than this wraps
    WRAP: ClassVar[int] = 24

    name: str
    title: str
    data: pd.DataFrame
    display: pd.DataFrame
    row_class: list[str] = field(default_factory=list)
    note: str = ""
    #: displayed columns of prose shown in full (wrapped, wider, never folded)
    prose: tuple[str, ...] = ()

    @property
    def full(self) -> list[bool]:
        """Per displayed column: is it prose shown in full (:attr:`prose`)?"""
        return [c in self.prose for c in self.display.columns]

    @property
    def wrap(self) -> list[bool]:
        """Per displayed column: may its text wrap? One with a folded cell does; so, in a
        table too wide for one line of the page, does each column of long text (not
        numbers). A table that fits keeps one line per row."""
        lengths = [col.str.len() for _, col in self.display.astype(str).items()]
        shown = [int(n.where(n <= self.FOLD, self.PREVIEW).max()) if len(n) else 0
                 for n in lengths]
        words = [max(map(len, str(h).split()), default=0) for h in self.display.columns]
        wide = sum(max(s, w) + 2 for s, w in zip(shown, words, strict=True)) > self.LINE
        return [bool(n.gt(self.FOLD).any()) or (wide and s > self.WRAP and not number) or full
                for n, s, number, full in zip(lengths, shown, self.numeric, self.full,
                                              strict=True)]

    @property
    def numeric(self) -> list[bool]:
        """Per displayed column: does it hold numbers only (right-aligned)?"""
        return [
            bool(len(col)) and col.str.fullmatch(_NUMERIC).all()
            and not col.str.contains(r"\d\.\d+\.\d").any()  # versions such as 2.13.0 are text
            for _, col in self.display.astype(str).items()
        ]


@dataclass
class RenderedFigure:
    """A drawn figure (``png`` is base64) or a placeholder when there was nothing to draw."""

    spec: FigureSpec
    png: str | None = None


def _fmt(value: object, spec: str = "{:.3g}") -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return _DASH
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, float) and spec:
        if spec == "{:.3g}" and abs(value) >= 1000:
            spec = "{:,.0f}"
        return spec.format(value)
    return str(value)


def _view(frame: pd.DataFrame, columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Formatted copy: ``columns`` maps source column -> (header, format)."""
    return pd.DataFrame(
        {header: [_fmt(v, spec) for v in frame[col]] for col, (header, spec) in columns.items()
         if col in frame}
    )


def _iqr(frame: pd.DataFrame) -> list[str]:
    return [
        _DASH if pd.isna(m) else f"{m:.3g} ({lo:.3g}{_TO}{hi:.3g})"
        for m, lo, hi in zip(frame["s_per_img"], frame["s_per_img_q25"], frame["s_per_img_q75"],
                             strict=True)
    ]


def _warn(notes: pd.Series) -> list[str]:
    return ["warn" if n else "" for n in notes.fillna("")]


def _cores(table: pd.DataFrame) -> list[str]:
    """The summary's short mark of a cell whose times include waiting for a core: its
    parties were time-sliced (``oversubscribed``), other work shared the machine
    (``contended``) or both (the full note is in the banner and the CSV)."""
    sliced, shared = (table[c].astype("boolean").fillna(False) for c in ("oversubscribed",
                                                                          "contended"))
    marks = [[m for m, on in (("time-sliced", s), ("shared", c)) if on]
             for s, c in zip(sliced, shared, strict=True)]
    return ["⚠ " + ", ".join(m) if m else "" for m in marks]


def _summary_table(table: pd.DataFrame) -> Table:
    view = _view(table, {
        "system": ("system", ""), "settings": ("settings", ""), "model": ("model", ""),
        "dataset": ("dataset", ""), "parties": ("parties", ""), "batch": ("batch", ""),
        "repeats": ("repeats", ""),
    })
    if not table["settings"].fillna("").astype(bool).any():
        view = view.drop(columns="settings")
    view["time / image [s], median (IQR)"] = _iqr(table)
    if table["oversubscription"].fillna("").astype(bool).any():
        view["cores"] = _cores(table)
    view = pd.concat([view, _view(table, {
        "img_per_s": ("images / s", "{:.3g}"),
        "slowdown": ("slowdown vs plaintext", "{:.3g}" + _TIMES),
        "accuracy": ("accuracy", "{:.3f}"), "agreement": ("agreement", "{:.3f}"),
        "peak_rss_mib": ("peak RSS / party [MiB]", "{:.0f}"),
        "mib_per_img": ("MiB sent / image (all parties)", "{:.3g}"),
        "rounds_per_img": ("rounds / image", "{:.3g}"), "eff": ("Eff [s]", "{:.3g}"),
    })], axis=1)
    view["security"] = [("⚠ " if n else "") + tag for n, tag in
                        zip(table["security_note"].fillna(""), table["security"], strict=True)]
    weaker = labels.weaker_than_peers(table)
    return Table("summary", "Summary", table, view, ["warn" if w else "" for w in weaker],
                 "Highlighted rows: security weaker than another MPC row's of the same "
                 "model, dataset, parties and network (threshold 0 beside a threshold above "
                 "0, or a TFP dealer beside a TTP dealer): their numbers are not a like-for-"
                 "like comparison. ⚠ in “security”: a weakened setting (t=0: every party "
                 "holds the values; TFP: party 0 deals the randomness). ⚠ in “cores”: "
                 "time-sliced, the parties had more threads than the machine has cores, or "
                 "shared, other work used the machine while the cell ran; either way its "
                 "times include waiting for a core. Eff [s]: the median total time of a "
                 "repeat divided by accuracy. Rounds / image is empty (—) where the framework "
                 "does not count rounds.")


def _multiple(r: float, spec: str = "{:.2f}") -> str:
    """``1.00x`` (``spec`` below 100, then whole numbers); a dash where missing."""
    return _DASH if pd.isna(r) else (spec.format(r) if r < 100 else f"{r:,.0f}") + _TIMES


def _times(values: pd.Series, ratios: pd.Series, spec: str = "{:.3g}") -> list[str]:
    """``value (ratio x)`` per row; a missing value is a dash, a missing ratio too."""
    return [_DASH if pd.isna(v) else f"{_fmt(v, spec)} ({_multiple(r)})"
            for v, r in zip(values, ratios, strict=True)]


def _versus_table(frame: pd.DataFrame, baseline: str | None) -> Table:
    view = _view(frame, {"model": ("model", ""), "dataset": ("dataset", ""),
                         "parties": ("parties", ""), "network": ("network", ""),
                         "batch": ("batch", ""), "system": ("system", ""),
                         "security": ("security", "")})
    if frame["network"].fillna("none").eq("none").all():
        view = view.drop(columns="network")
    for value, header, spec in (("s_per_img", "time / image [s]", "{:.3g}"),
                                ("mib_per_img", "MiB / image", "{:.3g}"),
                                ("peak_rss_mib", "peak RSS / party [MiB]", "{:.0f}"),
                                ("rounds_per_img", "rounds / image", "{:.3g}")):
        view[f"{header} ({_TIMES} ref)"] = _times(frame[value], frame[versus.RATIOS[value]],
                                                  spec)
    view["plaintext [s / image]"] = [_fmt(v) for v in frame["plaintext_s_per_img"]]
    view["slowdown vs plaintext"] = [_multiple(v, "{:.3g}") for v in frame["slowdown"]]
    if baseline is not None:  # else every group's reference is its fastest MPC row
        view["reference"] = frame["reference"].to_numpy()
    first = ~frame[versus.GROUP].astype(str).duplicated()
    classes = [" ".join(c for c, on in (("group", start), ("ref", ref)) if on)
               for start, ref in zip(first, frame["is_reference"], strict=True)]
    return Table("versus", "Head to head", frame, view, classes,
                 versus.relative_to(baseline) + " Bold: the reference row of its group.")


def _plain_table(name: str, title: str, frame: pd.DataFrame, note: str = "",
                 row_class: list[str] | None = None) -> Table:
    view = pd.DataFrame({str(c).replace("_", " "): [_fmt(v) for v in frame[c]]
                         for c in frame.columns})
    return Table(name, title, frame, view, row_class or [""] * len(frame), note)


def _coverage_table(frame: pd.DataFrame) -> Table:
    classes = ["missing" if s == provenance.NOT_MEASURED else "" for s in frame["status"]]
    return _plain_table("coverage", "Frameworks and baselines", frame,
                        "Every known framework is listed; one without results is "
                        f"“{provenance.NOT_MEASURED}”.", classes)


def _security_table(frame: pd.DataFrame) -> Table:
    out = frame.assign(security_note=["⚠ " + n if n else "" for n in frame["security_note"]])
    table = _plain_table("security", "Security model of the MPC runs", out,
                         "t is the number of corrupt parties the protocol tolerates; “protects” "
                         "says what the setting protects, from the backend's security record. "
                         "Rows with threshold 0 or a trusted-first-party (TFP) provider are "
                         "marked ⚠.",
                         _warn(frame["security_note"]))
    return replace(table, prose=("protects",))


def _micro_table(frame: pd.DataFrame) -> Table:
    view = _view(frame, {
        "system": ("system", ""), "dtype": ("dtype", ""), "parties": ("parties", ""),
        "repeats": ("repeats", ""), "load_s": ("time to load [s], median", "{:.3g}"),
        "share_s": ("time to share [s], median", "{:.3g}"),
        "share_s_q25": ("share q25", "{:.3g}"), "share_s_q75": ("share q75", "{:.3g}"),
        "peak_rss_mib": ("peak RSS / party [MiB]", "{:.0f}"),
        "share_vs_torch_load": ("share time / torch load time", "{:.3g}" + _TIMES),
        "case_id": ("case", ""),
    })
    return Table("micro", "Sharing micro-benchmark", frame, view, [""] * len(frame),
                 "Load: reading the images into a torch tensor of the dtype at the data owner; "
                 "share: secret-sharing (encrypting) that tensor among the parties. The last "
                 "ratio divides the share time by plaintext torch's load time of the same dtype.")


def _training_table(frame: pd.DataFrame) -> Table:
    view = _view(frame, {
        "system": ("system", ""), "model": ("model", ""), "dataset": ("dataset", ""),
        "parties": ("parties", ""), "batch": ("batch", ""), "steps": ("steps", ""),
        "s_per_step": ("s / step", "{:.3g}"), "s_per_epoch": ("s / epoch", "{:,.0f}"),
        "epoch_source": ("epoch", ""), "plain_s_per_step": ("plaintext s / step", "{:.3g}"),
        "plain_s_per_epoch": ("plaintext s / epoch", "{:.3g}"),
        "slowdown": ("slowdown", "{:.3g}" + _TIMES),
        "loss_first": ("loss first", "{:.4f}"), "loss_last": ("loss last", "{:.4f}"),
        "plain_loss_last": ("plaintext loss last", "{:.4f}"),
        "accuracy": ("test accuracy", "{:.3f}"), "plain_accuracy": ("plaintext", "{:.3f}"),
        "max_abs_err": ("max |logit diff|", "{:.3g}"),
    })
    return Table("training", "Secure training", frame, view, [""] * len(frame),
                 "One row per training run. Time per step: median over the steps of the "
                 "slowest party's step (sharing the batch, forward, loss, backward, update, "
                 "opening the loss); per epoch: measured if the run covered an epoch of its "
                 "training images, else the step time x the steps of an epoch "
                 "(extrapolated). Plaintext: torch SGD of the same steps from the same "
                 "initial weights, timed in the same run. Test accuracy: the trained model's "
                 "logits opened to the model owner only.")


def _phase_table(phases: pd.DataFrame) -> pd.DataFrame:
    keys = ["system", "model", "dataset", "parties", "batch"]
    wide = phases.groupby([*keys, "phase"], dropna=False, observed=True)["s_per_img"].first()
    return wide.unstack("phase").reset_index().rename_axis(columns=None)


def _draw(spec: FigureSpec, tables: Tables, out_dir: Path) -> RenderedFigure:
    fig = figures.render(spec, tables)
    if fig is None:
        return RenderedFigure(spec)
    fig.savefig(out_dir / f"{spec.name}.svg", bbox_inches="tight")
    png = out_dir / f"{spec.name}.png"
    fig.savefig(png, dpi=110, bbox_inches="tight")
    figures.close(fig)
    return RenderedFigure(spec, base64.b64encode(png.read_bytes()).decode("ascii"))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mpcbench.report", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["fmt"] = _fmt
    return env


def build(results_dir: Path, out_dir: Path, expected: dict[str, str] | None = None,
          baseline: str | None = None) -> Path:
    """Write the report of ``results_dir`` into ``out_dir``; return the path of index.html.

    ``expected`` (framework -> declared kind, e.g. from the backend registry) names the
    frameworks to account for: those without rows are listed as not measured.
    ``baseline`` (a framework) is the reference of the head-to-head ratios where a group
    has its stock row; without it, each group's fastest MPC row.
    """
    df = store.load(results_dir)
    if df.empty:
        raise InputError(f"no results in {results_dir}; run `mpcbench run` or `sweep` first")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    obs = summary.repeats(df)  # every figure per repeat, shared by the tables below
    cells = roles.mark_dealers(summary.summary(df, obs), df)
    phases = summary.phases(df)
    sharing = micro.micro(df)
    coverage = provenance.coverage(df, expected)
    security = provenance.security(df)
    baseline_fws = sorted(coverage.loc[coverage["kind"] == "baseline", "framework"])
    per_network = network.by_network(df, obs)
    traffic = dealer.table(cells, df)
    published = load_literature()
    against = literature.table(cells, df, published)
    head_to_head = versus.table(cells, df, baseline)
    tables = [
        _versus_table(head_to_head, baseline),
        _summary_table(cells),
        _coverage_table(coverage),
        _plain_table("baselines", "Baseline metrics", summary.run_metrics(df, baseline_fws),
                     "Every metric of the non-MPC baselines (mean over runs)."),
        _plain_table("phases", "Phase breakdown", _phase_table(phases),
                     "Median seconds per image of each phase, max over parties."),
        Table("dealer", dealer.TITLE, traffic, _view(traffic, dealer.HEADERS),
              [""] * len(traffic), dealer.NOTE),
        Table("literature", literature.TITLE, against, _view(against, literature.HEADERS),
              [""] * len(against), literature.NOTE),
        _plain_table("literature_pending", "Published figures not yet beside ours",
                     literature.pending(cells, published),
                     "Per network, parties, batch and link setting: who published figures "
                     "and the command that measures ours (an emulated network needs root)."),
        _plain_table("effective_rounds", "Effective vs counted rounds",
                     network.effective_rounds(per_network),
                     "Effective rounds per batch: the slope of the median time per batch "
                     "against the network's round-trip time, over the networks a cell was "
                     "measured on; counted: the framework's own count (max over parties)."),
        _plain_table("cost_model", "Cost model vs measured (emulated networks)",
                     network.cost_model(per_network),
                     "Predicted time per batch = the same cell's time on loopback + counted "
                     "rounds x RTT + MiB a party sends per batch / link rate."),
        _plain_table("network_fidelity", "Emulated networks: requested vs measured",
                     network.fidelity(df),
                     "Requested delay, RTT and rate of each run's default link, and the "
                     "median RTT and rate its probe measured before the parties started."),
        _plain_table("failures", "Failed, timed-out and skipped runs", provenance.failures(df)),
        _security_table(security),
        _plain_table("role_costs", "Cost per role", roles.role_costs(df),
                     "Per MPC cell and role, the total phase of each party in that role: "
                     "median wall and CPU seconds, largest peak RSS, median MiB sent and "
                     "received per image."),
        _plain_table("machines", "Machines", provenance.machines(df)),
        _plain_table("versions", "Software versions", provenance.versions(df)),
        _plain_table("runs", "All runs", provenance.runs(df)),
    ]
    tables += [
        _plain_table("privacy", "Privacy: what an attacker on the wire recovers",
                     privacy.privacy_table(df, cells), privacy.NOTE),
        _plain_table("robustness_cnnf", "Robustness: CNN-F", robustness.feedback_table(df),
                     robustness.FEEDBACK_NOTE),
        _plain_table("robustness_vae", "Robustness: VAE Lipschitz certificate",
                     robustness.vae_table(df), robustness.VAE_NOTE),
    ]
    if not sharing.empty:
        tables.append(_micro_table(sharing))
    trained = training.runs(df)
    if not trained.empty:
        tables.append(_training_table(trained))
    for table in tables:
        table.data.to_csv(out_dir / f"{table.name}.csv", index=False)
    figures.theme()
    inputs = figures.inputs(df, cells, phases, per_network, obs)
    drawn = [_draw(spec, inputs, out_dir) for spec in FIGURES]
    micro_fig = _draw(SHARING_FIGURE, inputs, out_dir) if not sharing.empty else None
    reconstructions = privacy.copy_reconstruction_figures(df, out_dir)
    training_figs = [] if trained.empty else [
        _draw(spec, inputs, out_dir) for spec in training.figure_specs(trained, df)]
    files = [f"{t.name}.csv" for t in tables] + [r["file"] for r in reconstructions] + [
        f"{f.spec.name}.{ext}" for f in [*drawn, micro_fig, *training_figs] if f and f.png
        for ext in ("png", "svg")
    ]
    index = out_dir / "index.html"
    index.write_text(_environment().get_template("index.html.j2").render(
        title="mpcbench report",
        results_dir=str(results_dir),
        generated=datetime.now(UTC),
        version=__version__,
        dates=provenance.run_dates(df),
        machines=provenance.machines(df),
        tables={t.name: t for t in tables},
        versus_settings=versus.settings(head_to_head),
        figures=drawn,
        micro_figure=micro_fig,
        reconstructions=reconstructions,
        training_figures=training_figs,
        not_measured=list(coverage.loc[coverage["status"] == provenance.NOT_MEASURED,
                                       "framework"]),
        warnings=sorted(set(security["security_note"]) - {""}),
        oversubscribed=sorted(set(cells["oversubscription"].fillna("")) - {""}),
        files=sorted(files),
    ), encoding="utf-8")
    return index

