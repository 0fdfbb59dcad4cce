"""The tidy results schema: one row per measurement, with provenance and security model.

Columns are the contract shared by the worker, launcher, store, CLI and report. Rows for a
party carry its ``rank``; run-level rows (accuracy, agreement, ...) have ``rank = -1``.
"""

from __future__ import annotations

import json

import pandas as pd

from ..errors import MpcbenchError
from ..metrics import RANK_METRICS, RUN_METRICS  # noqa: F401  re-exported

#: 2: ``kind`` and ``framework_versions`` (declared by the backend) replace the fixed
#: ``crypten_version`` / ``mpyc_version`` columns of version 1
#: 3: ``network`` (what the parties talked over) and ``host`` (each party's host)
SCHEMA_VERSION = 3

#: identity of the measurement
KEY_COLUMNS = [
    "run_id",
    "timestamp",
    "case_id",
    "framework",
    #: what the backend declares itself: ``mpc``, ``plaintext`` or ``baseline``
    "kind",
    "model",
    "dataset",
    "parties",
    #: the network the parties talked over (``none``: this machine's loopback)
    "network",
    "rank",
    "batch",
    "images",
    "repeat",
    "is_warmup",
    "phase",
    "metric",
    "value",
    "unit",
    "status",
    "error",
    "comm_method",
]

#: security model of the run
SECURITY_COLUMNS = [
    "protocol",
    "threshold",
    "provider",
    "adversary",
    "data_owner",
    "model_owner",
    "output_party",
]

#: where and with what the run was made
PROVENANCE_COLUMNS = [
    "schema_version",
    "mpcbench_version",
    "python_version",
    "torch_version",
    "numpy_version",
    #: JSON ``{package: version}`` of what the backend runs on, as it declares
    "framework_versions",
    "git_commit",
    "git_dirty",
    "hostname",
    #: the host a party ran on (its rows; as the placement names it)
    "host",
    "os",
    "cpu_model",
    "cpu_cores",
    "ram_bytes",
    "threads_per_party",
    "weights_sha256",
    "case_fingerprint",
    "backend_config",
]

COLUMNS = KEY_COLUMNS + SECURITY_COLUMNS + PROVENANCE_COLUMNS

STATUSES = ("ok", "failed", "timeout", "skipped")

#: non-string column types (every other column is a nullable string)
DTYPES = {
    **dict.fromkeys(
        ["parties", "rank", "batch", "images", "repeat", "threshold", "data_owner",
         "model_owner", "output_party", "schema_version", "cpu_cores", "ram_bytes",
         "threads_per_party"],
        "Int64",
    ),
    "value": "float64",
    "is_warmup": "bool",
    "git_dirty": "boolean",
}


class SchemaError(MpcbenchError):
    """A results table does not follow the schema."""


#: version-1 files: the kinds of the backends that existed then, and their version columns
_V1_KINDS = {"crypten": "mpc", "mpyc": "mpc", "plaintext": "plaintext", "complex": "baseline",
             "feedback": "baseline"}
_V1_VERSIONS = {"crypten": "crypten_version", "mpyc": "mpyc_version"}


def migrate(df: pd.DataFrame, version: int) -> pd.DataFrame:
    """Rows of a file written with schema ``version``, in the current schema's columns."""
    out = df.copy()
    if version < 3:
        out["network"] = "none"  # every run before version 3 used this machine's loopback
    if version >= 2:
        return out
    out["kind"] = out["framework"].map(_V1_KINDS)

    def declared(row: pd.Series) -> str:
        col = _V1_VERSIONS.get(row["framework"])
        value = row.get(col) if col else None
        return json.dumps({row["framework"]: value} if isinstance(value, str) else {})

    out["framework_versions"] = out.apply(declared, axis=1)
    return out.drop(columns=[c for c in _V1_VERSIONS.values() if c in out])


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with exactly :data:`COLUMNS` in order and their types.

    Missing columns are filled with NA; extra columns are an error (they would
    silently vanish from later readers).
    """
    extra = sorted(set(df.columns) - set(COLUMNS))
    if extra:
        raise SchemaError(f"unknown result columns: {', '.join(extra)}")
    out = df.reindex(columns=COLUMNS)
    out["is_warmup"] = out["is_warmup"].astype("boolean").fillna(False)
    for col in COLUMNS:
        if col == "timestamp":
            out[col] = pd.to_datetime(out[col], utc=True)
        elif col in DTYPES:
            out[col] = out[col].astype(DTYPES[col])
        else:
            out[col] = out[col].astype("string")
    bad = set(out["status"].dropna()) - set(STATUSES)
    if bad:
        raise SchemaError(f"unknown status values: {', '.join(sorted(bad))}")
    return out
