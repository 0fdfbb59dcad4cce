"""The report's robustness section, read from the result rows: CNN-F's accuracy under
noise and attacks beside the plain cnn's, and the VAE's Lipschitz certificate against the
maximum-damage attack.

VAE rows name the attack radius in the metric (``attack_damage_r0.5``: mean damage at
pixel-L2 radius 0.5, ``attack_damage_max_r0.5``: the largest; see
:mod:`mpcbench.baselines.vae.backend`); the table has one column per radius.
"""

from __future__ import annotations

import re

import pandas as pd

from ..results import identity, summary
from .privacy import sources

#: CNN-F metrics (the plain cnn's are the same with a ``cnn_`` prefix)
FEEDBACK = ("accuracy_clean", "accuracy_noisy", "accuracy_fgsm", "accuracy_pgd")
#: VAE metrics besides the per-radius damage
VAE = ("certified_radius", "lipschitz_reconstruction", "certificate_held",
       "certificate_looseness", "reconstruction_mse")
_DAMAGE = re.compile(r"attack_damage(_max)?_r([0-9.eE+-]+)$")


def _wide(df: pd.DataFrame, framework: str, keep, attack=lambda m: True) -> pd.DataFrame:
    """Rows of ``framework`` whose metric ``keep`` accepts: one row per cell with a
    column per metric (mean over runs) and ``source`` (where the figures that ``attack``
    accepts came from)."""
    rows = summary.usable(df)
    rows = rows[(rows["framework"] == framework) & (rows["phase"] == "total")
                & rows["metric"].map(keep).astype(bool)]
    if rows.empty:
        return pd.DataFrame()
    keys = ["model", "dataset", "parties", "config"]
    wide = rows.groupby([*keys, "metric"], dropna=False)["value"].mean().unstack("metric")
    attacked = rows[rows["metric"].map(attack).astype(bool)]
    source = attacked.groupby(keys, dropna=False)["source"].agg(sources)
    return wide.join(source).reset_index().rename_axis(columns=None)


def feedback_table(df: pd.DataFrame) -> pd.DataFrame:
    """CNN-F beside the plain cnn: accuracy clean, noisy, under FGSM and PGD."""
    names = {*FEEDBACK, *(f"cnn_{m}" for m in FEEDBACK)}
    wide = _wide(df, "feedback", lambda m: m in names)
    if wide.empty:
        return wide
    cols = ["dataset", "config", *[m for m in FEEDBACK if m in wide],
            *[f"cnn_{m}" for m in FEEDBACK if f"cnn_{m}" in wide], "source"]
    return wide[cols]


def verdict(held: float, looseness: float) -> str:
    """What a certificate check means: held (and how loose), or violated (a bug)."""
    if pd.isna(held):
        return "not checked"
    if held:
        return f"held on every image; bound {looseness:.0f}\N{MULTIPLICATION SIGN} the " \
               "largest damage found (loose constant)"
    return ("VIOLATED \N{EM DASH} a bug: the product of exact spectral norms bounds every "
            "perturbation, so the attack or the bound is wrong")


def vae_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per VAE setting: encoder std, input noise, Lipschitz bound, certified radius, mean
    and largest attack damage per radius, whether the certificate held and what that
    means (:func:`verdict`)."""
    wide = _wide(df, "vae", lambda m: m in VAE or bool(_DAMAGE.match(m)),
                 lambda m: m.startswith(("attack_damage", "certificate")))
    if wide.empty:
        return wide
    opts = [identity.parse_config(c) for c in wide["config"]]
    out = pd.DataFrame({"dataset": wide["dataset"],
                        "sigma_enc": [o.get("sigma_enc", "") for o in opts],
                        "input_noise": [o.get("input_noise", "") for o in opts]})
    for m in ("lipschitz_reconstruction", "certified_radius", "reconstruction_mse"):
        out[m] = wide.get(m)
    radii = sorted({float(g[2]) for m in wide if (g := _DAMAGE.match(m))})
    for r in radii:
        for suffix, label in (("", "mean"), ("_max", "max")):
            col = f"attack_damage{suffix}_r{r:g}"
            out[f"damage r={r:g} ({label})"] = wide.get(col)
    held = wide.get("certificate_held", pd.Series(float("nan"), index=wide.index))
    loose = wide.get("certificate_looseness", pd.Series(float("nan"), index=wide.index))
    out["certificate held"] = ["" if pd.isna(h) else "yes" if h else "no" for h in held]
    out["verdict"] = [verdict(h, lo) for h, lo in zip(held, loose, strict=True)]
    out["source"] = wide["source"]
    return out.sort_values(["dataset", "sigma_enc", "input_noise"], ignore_index=True)

#: the tables' notes in the report
FEEDBACK_NOTE = ("Accuracy on clean, Gaussian-noisy (std 0.3 pixels) and adversarial "
                 "(FGSM, PGD, L-inf radius 0.1 pixels) test images; cnn_: the plain cnn on "
                 "the same images.")
VAE_NOTE = ("L2 distances in pixels. Certified radius: tolerance 1 / the Lipschitz bound of "
            "the reconstruction (product of the layers' exact spectral norms); damage: how "
            "far the maximum-damage attack (projected gradient ascent) moved the "
            "reconstruction within each radius, mean and largest over the attacked images.")
