"""What a cell's security setting protects, in words.

Every backend declares a security record (``security(case)``): protocol, threshold,
provider and adversary are stored as columns of its rows, the rest (dealer rank, the
inputs the dealer also holds, who learns the outputs, notes) under ``security`` in the
row's ``backend_config``. :func:`describe` turns one such record, with the run's parties,
kind and roles, into a short tag for tables (an MPC row's is the one its figures mark it
with, :func:`.labels.setting_tag`: ``t=0 (no privacy)``, ``TFP dealer``, ``TTP dealer``,
``honest majority``) and one sentence that is true for that setting:

* threshold 0: no privacy, every party holds the values;
* a dealer that is party 0 (CrypTen's trusted first party, TFP): it generates all
  correlated randomness in the clear, so it could learn every other party's inputs;
* a dealer process (TTP): holds no inputs, trusted not to collude;
* honest majority (Shamir, t < m/2): private while at most t of m parties collude;
* n-out-of-n sharing: private unless all n parties collude;
* no MPC (plaintext, baselines): no cryptographic protection, with what the backend says.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..roles import RoleError, Roles
from .labels import TFP_DEALER, TTP_DEALER, setting_tag
from .summary import CELL

#: the sentence of every threshold-0 setting
NO_PRIVACY = ("no privacy: every party holds the values \N{EM DASH} inputs, weights and every "
              "intermediate result are in the clear at every party (threshold t = 0)")
#: the sentence of an MPC row whose record has no threshold (stored before it was recorded)
UNRECORDED = "security setting not recorded"
#: the columns of a row :func:`describe` reads (besides the ``security`` extras)
COLUMNS = ["kind", "parties", "protocol", "threshold", "provider", "adversary",
           "model_owner", "data_owners", "output"]


@dataclass(frozen=True)
class Setting:
    """A security setting in words: a tag for tables and the sentence saying what it
    protects."""

    tag: str
    sentence: str


def _value(record: Mapping[str, Any], key: str) -> Any:
    """``record[key]``, ``None`` where absent or missing (NaN, NA)."""
    value = record.get(key)
    if value is None or (not isinstance(value, list | tuple) and pd.isna(value)):
        return None
    return value


def _parties(ranks: list[int]) -> str:
    return f"part{'y' if len(ranks) == 1 else 'ies'} {', '.join(map(str, ranks))}"


def _roles(record: Mapping[str, Any]) -> Roles:
    """The run's roles; the default (party 0 holds everything) where not recorded."""
    try:
        return Roles.parse(_value(record, "model_owner"), _value(record, "data_owners"),
                           _value(record, "output") or "owners")
    except RoleError:
        return Roles()


def _tfp(record: Mapping[str, Any], adversary: str) -> Setting:
    """Party ``dealer_rank`` (0) deals: what it holds itself and what it could learn."""
    dealer = int(_value(record, "dealer_rank") or 0)
    roles = _roles(record)
    owns = _value(record, "dealer_owns")
    if owns is None:  # recorded before the extras: from the roles
        owns = [r for r, held in (("model_owner", roles.model_owner == dealer),
                                  ("data_owner", dealer in roles.data_owners)) if held]
    others = [d for d in roles.data_owners if d != dealer]
    held = [text for text, has in (("the model", "model_owner" in owns),
                                   ("some of the images" if others else "all images",
                                    "data_owner" in owns)) if has]
    could = ([f"the model (party {roles.model_owner})"] if "model_owner" not in owns
             else []) + ([f"the images of {_parties(others)}"] if others else [])
    sentence = (f"party {dealer} generates all correlated randomness in the clear (trusted "
                f"first party), so party {dealer} could learn every other party's inputs "
                "\N{EM DASH} "
                + (f"here {' and '.join(could)}" if could else "none here")
                + (f" (party {dealer} owns {' and '.join(held)})" if held else ""))
    return Setting(TFP_DEALER, f"{sentence}; private against any coalition without party "
                               f"{dealer} ({adversary})")


def _ttp(adversary: str) -> Setting:
    return Setting(TTP_DEALER, (
        "a separate dealer process (trusted third party) that holds no inputs deals the "
        f"correlated randomness; private unless all parties collude ({adversary}; the "
        "dealer is trusted not to collude with any party)"))


def _unprotected(record: Mapping[str, Any]) -> Setting:
    """A plaintext reference or non-MPC baseline: no protocol, with what it declares."""
    protocol = str(_value(record, "protocol") or "none")
    detail = protocol.removeprefix("none").strip().removeprefix("(").removesuffix(")")
    adversary = str(_value(record, "adversary") or "none")
    sentence = "no cryptographic protection" + (f" ({detail})" if detail else "")
    if adversary == "none":
        tag = "plaintext" if str(_value(record, "kind")).lower() == "plaintext" else "none"
        return Setting(tag, sentence + ": every value is in the clear")
    tag = "empirical only" if "empirical" in adversary else "none"
    return Setting(tag, f"{sentence}; adversary: {adversary}")


def describe(record: Mapping[str, Any]) -> Setting:
    """The setting of one row: its security columns (see :data:`COLUMNS`) and the
    ``security`` extras of its ``backend_config``, in one flat mapping."""
    if str(_value(record, "kind")).lower() != "mpc":
        return _unprotected(record)
    threshold, parties = _value(record, "threshold"), int(_value(record, "parties") or 0)
    adversary = str(_value(record, "adversary") or "semi-honest")
    if threshold is None:
        return Setting("?", UNRECORDED)
    t, provider = int(threshold), str(_value(record, "provider") or "").upper()
    tag = setting_tag(provider, t, parties)
    if t == 0:
        return Setting(tag, NO_PRIVACY)
    if provider == "TFP":
        return _tfp(record, adversary)
    if provider == "TTP":
        return _ttp(adversary)
    if t >= parties - 1:
        return Setting(tag, f"private unless all {parties} parties collude ({adversary})")
    assumption = adversary.replace("(", "").replace(")", "")
    return Setting(tag, f"private while at most {t} of {parties} parties collude ({assumption})")


def extras(backend_config: object) -> dict[str, Any]:
    """The ``security`` extras of a stored ``backend_config`` (JSON text); empty when
    unset or unreadable."""
    try:
        config = json.loads(backend_config) if isinstance(backend_config, str) else {}
    except json.JSONDecodeError:
        return {}
    found = config.get("security") if isinstance(config, dict) else None
    return found if isinstance(found, dict) else {}


def of_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Per row of ``frame`` (rows with the :data:`COLUMNS` there are and, where present,
    ``backend_config``): ``security`` (the tag) and ``security_sentence``."""
    present = [c for c in [*COLUMNS, "backend_config"] if c in frame]
    said: dict[tuple, Setting] = {}
    tags, sentences = [], []
    for values in frame[present].itertuples(index=False, name=None):
        key = tuple(str(v) for v in values)
        if key not in said:
            row = dict(zip(present, values, strict=True))
            said[key] = describe({**extras(row.pop("backend_config", None)), **row})
        tags.append(said[key].tag)
        sentences.append(said[key].sentence)
    return pd.DataFrame({"security": tags, "security_sentence": sentences}, index=frame.index,
                        dtype=object)


def of_cells(cells: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """:func:`of_rows` of the summary's ``cells``, with the extras of each cell's first
    stored row in ``df`` (a cell's runs share their security record)."""
    configs = df.groupby(CELL, dropna=False)["backend_config"].first().reset_index()
    merged = cells[CELL].merge(configs, on=CELL, how="left")
    merged.index = cells.index
    return of_rows(pd.concat([cells[[c for c in COLUMNS if c in cells]],
                              merged[["backend_config"]]], axis=1))
