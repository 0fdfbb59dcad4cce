"""The report's privacy section: what an attacker on the wire learns about the inputs,
beside what each defence costs, read from the result rows.

One row per cell and attacker: MPC cells (what their security setting protects, in the
words of :mod:`mpcbench.results.security`: nothing to invert where the inputs are
secret-shared, the inputs in the clear at every party at threshold 0), the complex
baseline (each inversion attacker it reports) and the split baseline (at each DP-SGD
setting, with its epsilon); with accuracy, seconds and bytes per image of the same cell.
Attack figures read from an evaluation cache say so (``source``).
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pandas as pd

from ..results import security, summary

#: the attack-MSE cell of an MPC row starts so, followed by its security sentence
MPC_ATTACK = "n/a \N{EM DASH} "
#: framework -> (metric, attacker) rows of the table, in order
ATTACKERS = {
    "complex": (("attack_mse_k2", "learned decoder, best of k=2 angles"),
                ("attack_mse_k8", "learned decoder, best of k=8 angles"),
                ("attack_mse_phase", "angle from the phases (widest empty arc)"),
                ("attack_mse_mean_phase", "angle from the mean phase"),
                ("cnn_attack_mse", "learned decoder on the plain cnn's features")),
    "split": (("attack_mse", "learned decoder, disjoint slice of the same data"),
              ("attack_mse_cross_data", "learned decoder, trained on the other dataset")),
}
COLUMNS = ["system", "settings", "model", "dataset", "parties", "epsilon", "attacker",
           "attack_mse", "source", "accuracy", "s_per_img", "bytes_per_img"]


def sources(source: pd.Series) -> str:
    """Where a figure's rows came from: ``cached``, ``measured`` or both."""
    return ", ".join(sorted(set(source.dropna().astype(str))))


def _figures(df: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Per cell and metric: mean value over the runs' rows and where it came from."""
    rows = summary.usable(df)
    rows = rows[(rows["phase"] == "total") & rows["metric"].isin(metrics)]
    return rows.groupby([*summary.CELL, "metric"], dropna=False).agg(
        value=("value", "mean"), source=("source", sources))


def privacy_table(df: pd.DataFrame, cells: pd.DataFrame | None = None) -> pd.DataFrame:
    """The privacy table (columns :data:`COLUMNS`; empty without MPC or attacked cells) of
    the rows ``df`` and their summary ``cells`` (computed here when not given)."""
    cells = summary.summary(df) if cells is None else cells
    attacked = [m for pairs in ATTACKERS.values() for m, _ in pairs]
    said = security.of_cells(cells, df)["security_sentence"]
    cells = cells.assign(mpc=summary.is_mpc(cells), cell=range(len(cells)), said=said)
    # merged on the cell keys (missing keys match), one row per cell and metric
    found = cells[[*summary.CELL, "cell"]].merge(
        _figures(df, [*attacked, "epsilon"]).reset_index(), on=summary.CELL)
    figures = {(c, m): (v, s) for c, m, v, s in
               found[["cell", "metric", "value", "source"]].itertuples(index=False)}
    out = []
    for _, cell in cells.iterrows():
        base = {"system": cell["system"], "settings": cell["settings"],
                "model": cell["model"], "dataset": cell["dataset"],
                "parties": cell["parties"], "accuracy": cell["accuracy"],
                "s_per_img": cell["s_per_img"],
                "bytes_per_img": cell["mib_per_img"] * summary.MIB}
        if cell["mpc"]:
            out.append({**base, "attacker": "any", "attack_mse": MPC_ATTACK + cell["said"],
                        "source": ""})
            continue
        eps = figures.get((cell["cell"], "epsilon"), (None,))[0]
        for metric, attacker in ATTACKERS.get(cell["framework"], ()):
            if (cell["cell"], metric) in figures:
                value, source = figures[cell["cell"], metric]
                out.append({**base, "epsilon": eps, "attacker": attacker,
                            "attack_mse": value, "source": source})
    return pd.DataFrame(out, columns=COLUMNS)


def reconstruction_figures(df: pd.DataFrame) -> list[str]:
    """Paths of the reconstruction figures (originals beside reconstructions) the split
    runs recorded, one per dataset, as stored in their backend configuration."""
    rows = summary.usable(df[df["framework"].eq("split").fillna(False).astype(bool)])
    found = {}
    for text in rows["backend_config"].dropna().unique():
        path = json.loads(text).get("reconstruction_figure")
        if path:
            found[path] = None
    return list(found)


def copy_reconstruction_figures(df: pd.DataFrame, out_dir: Path) -> list[dict[str, str]]:
    """Copy every recorded reconstruction figure that exists here into ``out_dir``
    (``reconstructions-<i>.png``); per figure its ``file`` name and ``png`` (base64)."""
    out = []
    for i, path in enumerate(p for p in reconstruction_figures(df) if Path(p).is_file()):
        name = f"reconstructions-{i}.png"
        shutil.copyfile(path, Path(out_dir) / name)
        out.append({"file": name, "png": base64.b64encode(Path(path).read_bytes()).decode()})
    return out

#: the table's note in the report
NOTE = ("An MPC row says what its security setting protects instead of an attack figure. "
        "Attack MSE: mean squared error (pixels in [0, 1]) of the inversion attacker's "
        "reconstructions of test inputs from what the server receives; lower means more "
        "leaked. Epsilon: the DP-SGD budget of the split model's training (delta 1e-5; inf: "
        "plain training) \N{EM DASH} it bounds what the weights reveal about the training "
        "data, not what the activations reveal about the inputs. Source: cached = read from "
        "the evaluation cache of exactly these weights (python -m mpcbench.baselines), "
        "measured = a small attacker trained in the run. Seconds and bytes per image: the "
        "cell's median time per image and bytes all parties sent per image.")
