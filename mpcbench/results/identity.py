"""What makes two runs the same measurement: the identity of a run, its fingerprint, the
configuration text cells are grouped by, and why a stored cell is out of date.

A run's *identity* (stored as JSON in the column ``identity``) has five components:

* ``case``: framework, model, dataset, parties, batch, images and dtype (not repeats);
* ``config``: every option of the backend with its defaults filled in
  (:meth:`Backend.resolve`); ``None`` for runs stored before it was recorded;
* ``weights``: SHA-256 of every weights file the run uses (``<model>-<dataset>`` -> hash);
* ``mpcbench``: version and git commit of the code that ran, and ``changes``, a hash of
  its uncommitted changes (absent for a clean tree);
* ``frameworks``: versions of the packages the backend runs on (:meth:`Backend.versions`).

The fingerprint (``case_fingerprint``) is a hash of the identity; ``sweep`` re-runs a cell
whose fingerprint is not stored and :func:`explain` says what changed. Pure Python: the
party processes and the CLI import it without pandas.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

#: identity components in display order
COMPONENTS = ("case", "config", "weights", "mpcbench", "frameworks")
#: options shown in the system name or in their own columns, not among a cell's settings
LABELLED_OPTIONS = frozenset({"variant", "tuned", "provider", "threshold", "rewrite",
                              "protocol"})
_ARROW = "\N{RIGHTWARDS ARROW}"
_NONE = "\N{EM DASH}"


def option_text(value: Any) -> str:
    """An option value as configuration text shows it: strings bare, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def config_text(resolved: dict[str, Any] | None) -> str | None:
    """Resolved options as sorted ``k=v`` text (``bit_length=14, frac_bits=7``); ``""``
    for a backend without options, ``None`` when the configuration is unknown."""
    if resolved is None:
        return None
    return ", ".join(f"{k}={option_text(v)}" for k, v in sorted(resolved.items()))


def parse_config(text: object) -> dict[str, str]:
    """Inverse of :func:`config_text` (values as text); ``{}`` for empty or unknown."""
    if not isinstance(text, str) or not text:
        return {}
    out = {}
    for pair in text.split(", "):
        key, _, value = pair.partition("=")
        out[key] = value
    return out


def variant(config: object) -> str:
    """The variant a configuration runs: option ``variant``; before that option existed,
    ``tuned=true`` meant the tuned variant. ``stock`` when neither is set."""
    opts = parse_config(config)
    if "variant" in opts:
        return opts["variant"]
    return "tuned" if opts.get("tuned") == "true" else "stock"


def system_name(framework: str, config: object) -> str:
    """``crypten``, ``crypten+tuned``, ``mpyc+pool_before_relu``, ``fw[protocol]``: the
    framework, with its protocol (lower case) in brackets where it has one, suffixed with
    its variant unless that is ``stock`` and with its graph rewrite unless that is
    ``none`` (or unrecorded)."""
    v = variant(config)
    opts = parse_config(config)
    rewrite = opts.get("rewrite", "none")
    protocol = f"[{opts['protocol'].lower()}]" if "protocol" in opts else ""
    return framework + protocol + ("" if v == "stock" else f"+{v}") + (
        "" if rewrite == "none" else f"+{rewrite}")


def settings(config: object, keys: set[str] | None = None) -> str:
    """The ``k=v`` pairs of ``config`` for ``keys`` (all but the labelled ones if ``None``)."""
    opts = parse_config(config)
    keep = [k for k in sorted(opts) if (k in keys if keys is not None
                                        else k not in LABELLED_OPTIONS)]
    return ", ".join(f"{k}={opts[k]}" for k in keep)


def fingerprint(identity: dict[str, Any]) -> str:
    """16 hex digits of the SHA-256 of an identity."""
    blob = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def dumps(identity: dict[str, Any]) -> str:
    """An identity as stored (compact, sorted JSON)."""
    return json.dumps(identity, sort_keys=True, default=str)


def loads(text: object) -> dict[str, Any] | None:
    """A stored identity, ``None`` if absent."""
    if not isinstance(text, str) or not text:
        return None
    return json.loads(text)


def _short(component: str, key: str, value: Any) -> str:
    if value is None:
        return _NONE
    if (component == "weights" or key in ("commit", "changes")) and isinstance(value, str):
        return value[:7]
    return option_text(value)


def _label(component: str, key: str) -> str:
    return {"config": key, "case": key, "weights": f"weights {key}",
            "mpcbench": "mpcbench uncommitted changes" if key == "changes"
            else f"mpcbench {key}", "frameworks": key}.get(component, key)


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs from stored identity ``old`` to planned ``new``, one phrase per
    setting: ``weight_frac_bits 12 → 10``, ``mpcbench commit 26edd33 → e608ef3``."""
    out = []
    for comp in COMPONENTS:
        a, b = old.get(comp), new.get(comp)
        if a == b:
            continue
        if not isinstance(a, dict) or not isinstance(b, dict):
            if a is None and comp == "config":
                out.append("configuration not recorded")
            else:
                out.append(f"{comp} {_short(comp, '', a)} {_ARROW} {_short(comp, '', b)}")
            continue
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                out.append(f"{_label(comp, key)} {_short(comp, key, a.get(key))} {_ARROW} "
                           f"{_short(comp, key, b.get(key))}")
    return out


def explain(new: dict[str, Any], stored: list[dict[str, Any]],
            other_planned: set[str] = frozenset()) -> str:
    """Why a planned cell with identity ``new`` runs: ``new`` if no stored run has its case,
    else the changes from the closest stored identity of the same case (identities whose
    fingerprint belongs to another planned cell are not candidates)."""
    same_case = [s for s in stored if s.get("case") == new.get("case")
                 and fingerprint(s) not in other_planned]
    if not same_case:
        return "new"
    best = min((changes(s, new) for s in reversed(same_case)), key=len)
    return "; ".join(best) if best else "stored with another fingerprint"
