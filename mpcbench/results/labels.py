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
"""

from __future__ import annotations

import json

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

    return versions.map(label)


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


def cell_label(cells: pd.DataFrame, self_contained: bool = False) -> pd.Series:
    """The label of every row of ``cells`` (rows with the framework and, where present,
    ``config``, ``provider``, ``threshold``, ``network`` and the role columns; see the
    module docstring): a legend, or ``self_contained`` (rows also with model, dataset,
    parties and batch) the same label in any table."""
    if cells.empty:
        return pd.Series(dtype=object)
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
    security = pd.Series(_security(cells, self_contained), index=cells.index)
    label += security.map(lambda s: f" [{s}]" if s else "")
    label += settings.map(lambda s: f" {{{s}}}" if s else "")
    network = _column(cells, "network").fillna("none").astype(str)
    label += network.map(lambda n: "" if n == "none" else f" @{n}")
    held = [roles.stored_label(*v) for v in zip(_column(cells, "model_owner"),
                                                 _column(cells, "data_owners"),
                                                 _column(cells, "output"), strict=True)]
    return label + pd.Series([f" <{h}>" if h else "" for h in held], index=cells.index)


def add_labels(cells: pd.DataFrame) -> pd.DataFrame:
    """``cells`` with ``system``, the legend label of each cell (:func:`cell_label`), and
    ``settings``, the configuration settings that tell its system's cells apart."""
    return cells.assign(settings=varying_settings(cells), system=cell_label(cells))
