"""How results are named on screen: the label of a cell (one function for ``mpcbench
results``, the report and ``compare``), the declared kind and the package versions.

A cell's label is its system (the framework with its variant, ``crypten+tuned``; a stock
run is the bare framework), then in brackets its provider and threshold (``[TFP t=1]``),
in braces its configuration's other settings (``{bit_length=16}``), `` @network`` for runs
over an emulated network and last the roles when they are not party 0's
(``<mo=1,do=0+2,out=owners>``). A legend (a table's ``system`` column) shows only the
parts that tell the table's cells apart; a self-contained label (``compare``, which
matches the cells of two result sets by it) shows all of them, with the case after the
system: ``crypten+tuned/mlp mnist n=2 b=16 [TFP t=1]``.

Figures draw one line per *series*: the legend label without its security part, so one
framework and variant is one line across party counts (MPyC is t = 0 at 2 parties and
t = 1 at 3), and show each point's security setting by its *security tag*
(``t=0 (no privacy)``, ``TFP dealer``, ...) as a marker.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd

from .. import roles
from . import identity as ident

#: the ``kind`` a backend declares (stored on its rows) -> the label tables show
KIND_LABELS = {"mpc": "MPC", "plaintext": "plaintext", "baseline": "baseline"}


def versions_label(versions: pd.Series) -> pd.Series:
    """``{"crypten": "0.4.1"}`` (JSON text, as stored) -> ``crypten 0.4.1``."""
    def label(text: object) -> str:
        if not isinstance(text, str) or not text:
            return ""
        return ", ".join(f"{pkg} {ver}" for pkg, ver in sorted(json.loads(text).items()))

    labels = {text: label(text) for text in versions.dropna().unique()}  # once per value
    return pd.Series([labels.get(text, "") if isinstance(text, str) else "" for text in
                      versions], index=versions.index, dtype=object)


def kind_label(kind: pd.Series) -> pd.Series:
    """Table label of a declared kind (``mpc`` -> ``MPC``); unknown kinds as they are."""
    return kind.astype("string").map(lambda k: KIND_LABELS.get(k, k)).fillna("?").astype(str)


def _column(cells: pd.DataFrame, name: str) -> pd.Series:
    """Column ``name`` of ``cells``, all missing where ``cells`` has none."""
    return cells[name] if name in cells else pd.Series(pd.NA, index=cells.index, dtype=object)


def varying_settings(cells: pd.DataFrame) -> pd.Series:
    """Per row, the options of its configuration whose value differs between rows of the
    same system (``bit_length=16``); options shown elsewhere (variant, provider,
    threshold) are left out. Empty where nothing varies."""
    config = _column(cells, "config")
    base = [ident.system_name(str(fw), cfg) for fw, cfg in
            zip(cells["framework"], config, strict=True)]
    parsed = [ident.parse_config(c) for c in config]
    out = pd.Series("", index=cells.index, dtype=object)
    for name in set(base):
        idx = [i for i, b in enumerate(base) if b == name]
        keys = set().union(*(parsed[i] for i in idx)) - ident.LABELLED_OPTIONS
        varying = {k for k in keys if len({parsed[i].get(k) for i in idx}) > 1}
        for i in idx:
            out.iloc[i] = ident.settings(config.iloc[i], varying)
    return out


def _security(cells: pd.DataFrame, self_contained: bool) -> list[str]:
    """Per row, the provider and threshold its label shows (space-separated): both
    (``self_contained``), or a provider where its framework ran with several and ``t=0``
    where its framework ran with t = 0 and t > 0."""
    provider = _column(cells, "provider").astype("string").fillna("")
    threshold = _column(cells, "threshold")
    real = provider.ne("") & ~provider.str.startswith("none")
    zero = threshold.eq(0).fillna(False).astype(bool)
    if self_contained:
        show_provider, show_threshold = real, threshold.notna()
    else:
        frameworks = cells["framework"]
        several = _column(cells, "provider").groupby(frameworks).transform("nunique").gt(1)
        mixed = zero.groupby(frameworks).transform("any") & \
            (~zero & threshold.notna()).groupby(frameworks).transform("any")
        show_provider, show_threshold = real & several, zero & mixed
    return [" ".join(([str(p)] if sp else []) + ([f"t={t}"] if st else [])) for p, t, sp, st
            in zip(provider, threshold, show_provider, show_threshold, strict=True)]


#: the columns a label is made of: labels are made once per distinct combination of
#: them (:func:`_once`), however many rows (runs, repeats) share it
LABELLED = ["framework", "config", "provider", "threshold", "parties", "model", "dataset",
            "batch", "network", "model_owner", "data_owners", "output"]


def _once(cells: pd.DataFrame, make: Callable[[pd.DataFrame], pd.DataFrame]) -> pd.DataFrame:
    """``make`` (columns computed from the :data:`LABELLED` columns of ``cells`` and the
    set of their values) applied to one row per distinct combination of those columns,
    spread to every row of ``cells``."""
    keys = [c for c in LABELLED if c in cells]
    group = cells.groupby(keys, dropna=False, sort=False).ngroup().to_numpy()
    _, first = np.unique(group, return_index=True)
    made = make(cells[keys].iloc[first].reset_index(drop=True))
    return pd.DataFrame({c: made[c].to_numpy()[group] for c in made}, index=cells.index)


def cell_label(cells: pd.DataFrame, self_contained: bool = False) -> pd.Series:
    """The label of every row of ``cells`` (rows with the framework and, where present,
    ``config``, ``provider``, ``threshold``, ``network`` and the role columns; see the
    module docstring): a legend, or ``self_contained`` (rows also with model, dataset,
    parties and batch) the same label in any table."""
    if cells.empty:
        return pd.Series(dtype=object)
    return _once(cells, lambda u: pd.DataFrame(
        {"label": _label(u, self_contained, _security(u, self_contained))}))["label"]


def _label(cells: pd.DataFrame, self_contained: bool, security: list[str]) -> pd.Series:
    """:func:`cell_label` with ``security`` (per row, the text in brackets) given."""
    config = _column(cells, "config")
    label = pd.Series([ident.system_name(str(fw), cfg) for fw, cfg in
                       zip(cells["framework"], config, strict=True)],
                      index=cells.index, dtype=object)
    if self_contained:
        label += ("/" + cells["model"].astype(str) + " " + cells["dataset"].astype(str)
                  + " n=" + cells["parties"].astype(str) + " b=" + cells["batch"].astype(str))
        settings = config.map(ident.settings)
    else:
        settings = varying_settings(cells)
    security = pd.Series(security, index=cells.index, dtype=object)
    label += security.map(lambda s: f" [{s}]" if s else "")
    label += settings.map(lambda s: f" {{{s}}}" if s else "")
    network = _column(cells, "network").fillna("none").astype(str)
    label += network.map(lambda n: "" if n == "none" else f" @{n}")
    held = [roles.stored_label(*v) for v in zip(_column(cells, "model_owner"),
                                                 _column(cells, "data_owners"),
                                                 _column(cells, "output"), strict=True)]
    return label + pd.Series([f" <{h}>" if h else "" for h in held], index=cells.index)


#: security tags (:func:`security_tag`)
NO_PRIVACY = "t=0 (no privacy)"
TFP_DEALER = "TFP dealer"
TTP_DEALER = "TTP dealer"
HONEST_MAJORITY = "honest majority"
DISHONEST_MAJORITY = "dishonest majority"
#: the tag of a cell that runs no MPC (no threshold)
NO_MPC = ""
#: the cells a reader compares: the same model, dataset, party count and network
PEERS = ["model", "dataset", "parties", "network"]


def setting_tag(provider: object, threshold: object, parties: object) -> str:
    """A security setting in a few words: :data:`NO_PRIVACY` (threshold 0: every party
    holds the values), a dealer of correlated randomness (:data:`TFP_DEALER`, party 0;
    :data:`TTP_DEALER`, a process without inputs), else whether the threshold ``t``
    tolerates a minority (:data:`HONEST_MAJORITY`, 2t < parties) or more;
    :data:`NO_MPC` without a threshold."""
    t = pd.to_numeric(threshold, errors="coerce")
    if pd.isna(t):
        return NO_MPC
    if t == 0:
        return NO_PRIVACY
    prov = "" if provider is None or pd.isna(provider) else str(provider).upper()
    if prov in ("TFP", "TTP"):
        return TFP_DEALER if prov == "TFP" else TTP_DEALER
    return HONEST_MAJORITY if 2 * t < pd.to_numeric(parties, errors="coerce") \
        else DISHONEST_MAJORITY


def security_tag(cells: pd.DataFrame) -> pd.Series:
    """Per row, its :func:`setting_tag`."""
    return pd.Series([setting_tag(*v) for v in zip(
        _column(cells, "provider"), _column(cells, "threshold"), _column(cells, "parties"),
        strict=True)], index=cells.index, dtype=object)


#: columns that place a cell (its network and roles) besides what it runs
_PLACE = ["network", "model_owner", "data_owners", "output"]


def _clashing(names: pd.Series, cells: pd.DataFrame) -> pd.Series:
    """Per row: has its name, at one model, dataset, parties, batch, network and roles,
    cells of more than one security setting (provider and threshold)?"""
    setting = (_column(cells, "provider").astype("string").fillna("") + " "
               + _column(cells, "threshold").astype("string").fillna(""))
    at = [cells[c] for c in ("model", "dataset", "parties", "batch", *_PLACE) if c in cells]
    clash = setting.groupby([names, *at], dropna=False).transform("nunique").gt(1)
    return names.isin(set(names[clash]))


def series_label(cells: pd.DataFrame) -> pd.Series:
    """Per row, the series a figure draws it in: its legend label (:func:`cell_label`)
    without the security part, so one framework and variant is one line across party
    counts. Where a framework and variant has cells that differ only in their security
    setting (same model, dataset, parties, batch, network and roles: TFP and TTP, or
    t = 0 and t = 1 at 3 parties), its series keep the part of the setting that tells
    them apart: the legend's (``crypten [TTP]``, ``mpyc [t=0]``), else all of it."""
    if cells.empty:
        return pd.Series(dtype=object)
    unplaced = cells.drop(columns=_PLACE, errors="ignore")
    none = [""] * len(cells)
    split = _clashing(_label(unplaced, False, none), cells)
    bare = _label(cells, False, none)
    if not split.any():
        return bare
    legend = _security(cells, self_contained=False)
    unresolved = _clashing(_label(unplaced, False, legend), cells)
    full = _label(cells, False, _security(cells, self_contained=True))
    return bare.where(~split, _label(cells, False, legend).where(~unresolved, full))


def weaker_than_peers(cells: pd.DataFrame) -> pd.Series:
    """Per row of a table of cells: is its security weaker than another MPC cell's of
    the same model, dataset, parties and network (:data:`PEERS`)? Threshold 0 beside a
    threshold above 0, or a TFP dealer (party 0) beside a TTP dealer: the differences a
    comparison of their numbers must not overlook."""
    tag = security_tag(cells)
    keys = [cells[c] if c in cells else pd.Series("", index=cells.index) for c in PEERS]

    def beside(weak: str, strong: pd.Series) -> pd.Series:
        return tag.eq(weak) & strong.groupby(keys, dropna=False).transform("any")

    threshold = pd.to_numeric(_column(cells, "threshold"), errors="coerce")
    return beside(NO_PRIVACY, threshold.gt(0)) | beside(TFP_DEALER, tag.eq(TTP_DEALER))


def add_labels(cells: pd.DataFrame) -> pd.DataFrame:
    """``cells`` with ``system``, the legend label of each cell (:func:`cell_label`),
    ``settings``, the configuration settings that tell its system's cells apart,
    ``series``, the line a figure draws it in (:func:`series_label`), and ``security``,
    its security tag (:func:`security_tag`)."""
    return cells.assign(**_once(cells, lambda u: pd.DataFrame({
        "settings": varying_settings(u), "system": cell_label(u), "series": series_label(u),
        "security": security_tag(u)})))
