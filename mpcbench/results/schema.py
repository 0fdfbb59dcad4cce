"""The tidy results schema: one row per measurement, with provenance and security model.

Columns are the contract shared by the worker, launcher, store, CLI and report. Rows for a
party carry its ``rank``; run-level rows (accuracy, agreement, ...) have ``rank = -1``.
"""

from __future__ import annotations

import pandas as pd

from ..errors import MpcbenchError
from ..metrics import RANK_METRICS, RUN_METRICS  # noqa: F401  re-exported

SCHEMA_VERSION = 1

#: identity of the measurement
KEY_COLUMNS = [
    "run_id",
    "timestamp",
    "case_id",
    "framework",
    "model",
    "dataset",
    "parties",
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
    "crypten_version",
    "mpyc_version",
    "numpy_version",
    "git_commit",
    "git_dirty",
    "hostname",
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
