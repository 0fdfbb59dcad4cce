"""The tidy results schema: one row per measurement, with provenance and security model.

Columns are the contract shared by the worker, launcher, store, CLI and report. Rows for a
party carry its ``rank``; run-level rows (accuracy, agreement, ...) have ``rank = -1``.
"""

from __future__ import annotations

import json
import re

import pandas as pd

from ..errors import MpcbenchError
from ..metrics import RANK_METRICS, RUN_METRICS  # noqa: F401  re-exported

#: 2: ``kind`` and ``framework_versions`` (declared by the backend) replace the fixed
#: ``crypten_version`` / ``mpyc_version`` columns of version 1;
#: 3: ``config``, ``identity`` (what the fingerprint covers), ``oversubscribed``,
#: ``source`` (``measured`` or ``cached``), ``network`` (what the parties talked over)
#: and ``host`` (each party's host);
#: 4: ``role`` (each party's roles), and ``data_owners`` (ranks as text, ``0,2``) and
#: ``output`` (``owners`` or one rank) instead of the one ``data_owner`` and ``output_party``;
#: 5: ``note``, what befell a run beyond its status, and ``contended``, whether other work
#: shared the machine during the run (both missing in older files);
#: 6: ``workload`` (``inference``, ``micro`` or ``training``: what the run did) and
#: ``dtype`` (the input's before sharing), which older files kept only in ``case_id`` and
#: ``identity``;
#: 7: a file holds the run's record (the columns constant within a run) once, in its
#: metadata, and its rows only the :data:`ROW_COLUMNS` (the table read is unchanged)
SCHEMA_VERSION = 7

#: identity of the measurement: each column and what it holds (docs/results-columns.md is
#: generated from these descriptions: ``make docs``)
KEY = {
    "run_id": "the run: its UTC start time and a random suffix, e.g. "
              "`20261207T052501-3965c50e`",
    "timestamp": "when the run's rows were made (UTC)",
    "case_id": "the case, readable: `crypten/cnn(dataset=mnist,n=2,b=8)` (plus `net=`, the "
               "roles when not party 0's, `steps=` for secure training)",
    "framework": "the backend that ran: `plaintext`, `crypten`, `mpyc` or a baseline",
    "kind": "what the backend declares itself: `mpc`, `plaintext` or `baseline`",
    "model": "the model: `mlp`, `bnn`, `cnn` (MNIST-shaped), `alexnet`, `vgg16`, "
             "`resnet18` (CIFAR-10-shaped), `micro` (the sharing micro-benchmark) or a "
             "baseline's own",
    "workload": "what the run did: `inference` (secure inference, from trained weights or "
                "shares), `micro` (the sharing micro-benchmark) or `training` (secure "
                "training)",
    "dataset": "`mnist`, `fashion` or `synthetic` (seeded random images and labels: "
               "`accuracy` and `plain_accuracy` missing)",
    "parties": "how many computing parties (a dealer process is not counted)",
    "network": "the network the parties talked over: `none` (this machine's loopback) or "
               "an emulated profile (`lan`, `wan`, ...)",
    "rank": "the party (0-based); -1 for run-level metrics; `parties` (n) for a dealer "
            "process",
    "role": "the party's roles: `+`-joined sorted subset of `data_owner`, `model_owner`, "
            "`output`, or `compute` for a party with none; `dealer` for a dealer process "
            "(ranks after the computing parties', e.g. CrypTen's TTP); missing at rank -1",
    "batch": "images per batch",
    "images": "test images classified",
    "dtype": "dtype of the plaintext input before sharing (`float32`, `float64`)",
    "repeat": "repeat index (for secure training: the step)",
    "is_warmup": "a warm-up repeat: kept, but flagged and left out of statistics",
    "phase": "`setup`, `share`, `infer`, `reveal`, `total`, nested spans such as "
             "`share.model`; `process` (lifetime peak), `deal` (a dealer), `load` (micro), "
             "`train_step` and `test` (secure training)",
    "metric": "what was measured (the metric names are listed below)",
    "value": "the measurement; missing (NaN) where not measured, never 0",
    "unit": "the metric's unit: `s`, `B`, `count`, `ratio`, ...",
    "status": "`ok`, `failed`, `timeout` or `skipped`",
    "error": "the one-line reason of a run that is not `ok`",
    "note": "what befell the run beyond its status, e.g. `party 1 of 2 did not exit within "
            "5 s of its result and was stopped` (its results are complete: `status` stays "
            "`ok`)",
    "comm_method": "how bytes were obtained: `counted` (on the connections), `estimated` "
                   "(from tensor sizes) or `none`",
    "source": "`measured` in this run, `cached` (a figure read from a cache, e.g. a "
              "baseline's attack evaluation of its weights) or `extrapolated` (a secure "
              "training run's time per epoch from fewer steps); missing on failed-run rows",
    "config": "the backend's resolved options, every default filled in, as sorted `k=v` "
              "text (`bit_length=14, frac_bits=7, ...`; part of a cell's identity)",
}

#: security model of the run
SECURITY = {
    "protocol": "the secret-sharing scheme, e.g. `Shamir secret sharing (MPyC)`",
    "threshold": "how many colluding parties learn nothing: MPyC's Shamir t (0: no "
                 "secrecy), CrypTen n - 1",
    "provider": "who deals the correlated randomness: CrypTen `TFP` (party 0) or `TTP` (a "
                "dealer process); MPyC `none (PRSS/Shamir, no dealer)`; else `none`",
    "adversary": "the adversary the protocol is secure against, e.g. `semi-honest`",
    "data_owners": "ranks that held (and shared) the images, e.g. `0,2`",
    "model_owner": "the rank that held (and shared) the weights",
    "output": "who learnt the logits: `owners` (each data owner its own images') or one "
              "rank",
}

#: where and with what the run was made
PROVENANCE = {
    "schema_version": "the schema version the file was written with",
    "mpcbench_version": "mpcbench's version",
    "python_version": "Python's version",
    "torch_version": "torch's version",
    "numpy_version": "numpy's version",
    "framework_versions": "JSON `{package: version}` of what the backend runs on, as it "
                          "declares, e.g. `{\"crypten\": \"0.4.1\"}`",
    "git_commit": "the mpcbench commit (missing outside a git checkout)",
    "git_dirty": "the checkout had uncommitted changes",
    "hostname": "the launcher's host",
    "host": "the host a party ran on (its rows; as the placement names it)",
    "os": "operating system and kernel release",
    "cpu_model": "the launcher host's CPU",
    "cpu_cores": "the launcher host's logical cores",
    "ram_bytes": "the launcher host's memory",
    "threads_per_party": "torch threads of each party",
    "weights_sha256": "SHA-256 of the trained weights shared",
    "model_shares": "SHA-256 of the manifest of the secret-shared model files the run "
                    "loaded (else missing)",
    "case_fingerprint": "hash of `identity`: runs with the same fingerprint are the same "
                        "measurement",
    "identity": "JSON of what the fingerprint hashes: case, config, weights, mpcbench, "
                "frameworks",
    "oversubscribed": "parties x threads per party on one host exceeded its cores "
                      "(time-sliced)",
    "contended": "other measurements or other work used this machine's cores during the "
                 "run (missing for parties on other hosts)",
    "backend_config": "JSON of the rest: security extras, range check, placement, "
                      "network, liveness, contention, ...",
}

KEY_COLUMNS = list(KEY)
SECURITY_COLUMNS = list(SECURITY)
PROVENANCE_COLUMNS = list(PROVENANCE)
COLUMNS = KEY_COLUMNS + SECURITY_COLUMNS + PROVENANCE_COLUMNS
#: every column and what it holds
DESCRIPTIONS = KEY | SECURITY | PROVENANCE
#: the columns that vary between the rows of one run (``run_id`` ties them to its record)
ROW_COLUMNS = ["run_id", "rank", "role", "repeat", "is_warmup", "phase", "metric", "value",
               "unit", "comm_method", "source", "host"]
#: the columns of a run's record: one value per run (``run_id`` is its key)
RECORD_COLUMNS = ["run_id"] + [c for c in COLUMNS if c not in ROW_COLUMNS]


def first_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The first row of every run of the long table ``df``: enough for what is the same
    on all of a run's rows (its record, :data:`RECORD_COLUMNS`)."""
    return df.drop_duplicates("run_id")

STATUSES = ("ok", "failed", "timeout", "skipped")

#: non-string column types (every other column is a nullable string)
DTYPES = {
    **dict.fromkeys(
        ["parties", "rank", "batch", "images", "repeat", "threshold",
         "model_owner", "schema_version", "cpu_cores", "ram_bytes",
         "threads_per_party"],
        "Int64",
    ),
    "value": "float64",
    "is_warmup": "bool",
    "git_dirty": "boolean",
    "oversubscribed": "boolean",
    "contended": "boolean",
}


class SchemaError(MpcbenchError):
    """A results table does not follow the schema."""


#: version-1 files: the kinds of the backends that existed then, and their version columns
_V1_KINDS = {"crypten": "mpc", "mpyc": "mpc", "plaintext": "plaintext", "complex": "baseline",
             "feedback": "baseline"}
_V1_VERSIONS = {"crypten": "crypten_version", "mpyc": "mpyc_version"}


def migrate(df: pd.DataFrame, version: int) -> pd.DataFrame:
    """Rows of a file written with schema ``version``, in the current schema's columns."""
    out = df
    if version < 2:
        out = _migrate_1(out)
    if version < 3:
        out = _migrate_2(out)
    if version < 4:
        out = _migrate_3(out)
    if version < 6:
        out = _migrate_5(out)
    return out


def _migrate_1(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["kind"] = out["framework"].map(_V1_KINDS)

    def declared(row: pd.Series) -> str:
        col = _V1_VERSIONS.get(row["framework"])
        value = row.get(col) if col else None
        return json.dumps({row["framework"]: value} if isinstance(value, str) else {})

    out["framework_versions"] = out.apply(declared, axis=1)
    return out.drop(columns=[c for c in _V1_VERSIONS.values() if c in out])


#: metrics that version-2 baseline runs read from the evaluation cache of their weights
_V2_CACHED = {
    "complex": {"attack_mse", "attack_mse_phase", "cnn_attack_mse"},
    "feedback": {f"{p}accuracy_{a}" for p in ("", "cnn_")
                 for a in ("clean", "noisy", "fgsm", "pgd")},
}


def _value(row: pd.Series, col: str) -> object:
    value = row.get(col)
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _migrate_2(df: pd.DataFrame) -> pd.DataFrame:
    """Version 2 recorded no configuration: ``config`` stays missing, ``identity`` holds what
    the old columns tell (case, the one weights hash, code, framework versions)."""
    out = df.copy()
    cached = out.apply(lambda r: r["metric"] in _V2_CACHED.get(r["framework"], ()), axis=1)
    out["source"] = pd.Series("measured", index=out.index).where(~cached, "cached").where(
        out["value"].notna())

    def identity(row: pd.Series) -> str:
        sha = _value(row, "weights_sha256")
        versions = _value(row, "framework_versions")
        case = {k: _value(row, k) for k in ("framework", "model", "dataset")}
        case |= {k: None if _value(row, k) is None else int(row[k])
                 for k in ("parties", "batch", "images")}
        dtype = re.search(r"dtype=(\w+)", str(_value(row, "case_id") or ""))
        case["dtype"] = dtype.group(1) if dtype else "float32"
        return json.dumps({
            "case": case, "config": None,
            "weights": {f"{row['model']}-{row['dataset']}": sha} if sha else {},
            "mpcbench": {"version": _value(row, "mpcbench_version"),
                         "commit": _value(row, "git_commit")},
            "frameworks": json.loads(versions) if versions else {},
        }, sort_keys=True)

    out["identity"] = out.apply(identity, axis=1) if len(out) else pd.Series(dtype=object)
    missing = pd.Series(float("nan"), index=out.index)
    cores = pd.to_numeric(out.get("cpu_cores", missing), errors="coerce")
    threads = pd.to_numeric(out.get("threads_per_party", missing), errors="coerce")
    over = pd.to_numeric(out["parties"], errors="coerce") * threads > cores
    out["oversubscribed"] = over.where(cores.notna() & threads.notna())
    out["network"] = "none"  # every run before version 3 used this machine's loopback
    return out


def _migrate_3(df: pd.DataFrame) -> pd.DataFrame:
    """Before version 4 one rank held the images and one learnt every logit: ``role`` from
    ``data_owner``, ``model_owner`` and ``output_party`` (an output party that owned the
    images is ``output = owners``)."""
    out = df.copy()
    missing = pd.Series(pd.NA, index=out.index, dtype="Int64")
    data = pd.to_numeric(out.get("data_owner", missing), errors="coerce").astype("Int64")
    model = pd.to_numeric(out.get("model_owner", missing), errors="coerce").astype("Int64")
    output = pd.to_numeric(out.get("output_party", missing), errors="coerce").astype("Int64")
    rank = pd.to_numeric(out["rank"], errors="coerce").astype("Int64")

    def role(r: object, d: object, m: object, o: object) -> object:
        if pd.isna(r) or r < 0:
            return pd.NA
        held = [name for name, owner in (("data_owner", d), ("model_owner", m), ("output", o))
                if not pd.isna(owner) and owner == r]
        return "+".join(held) or "compute"

    out["role"] = [role(*v) for v in zip(rank, data, model, output, strict=True)]
    out["data_owners"] = data.astype("string")
    out["output"] = pd.Series(
        ["owners" if not pd.isna(o) and o == d else (pd.NA if pd.isna(o) else str(o))
         for d, o in zip(data, output, strict=True)], index=out.index, dtype="string")
    out["model_owner"] = model
    return out.drop(columns=[c for c in ("data_owner", "output_party") if c in out])


#: the model name of the sharing micro-benchmark, and the case id's mark of a secure
#: training run (``,steps=S``), in the files before version 6
_V5_SHARING_MODEL = "micro"
_V5_STEPS = re.compile(r",steps=\d+\)$")


def _case_dtype(identity: object, case_id: object) -> str:
    """The dtype a version-5 run's identity names (every identity since version 3, and
    those version 2 was migrated to), else its case id (``dtype=D``), else float32."""
    if isinstance(identity, str) and identity:
        found = json.loads(identity).get("case", {}).get("dtype")
        if found:
            return str(found)
    named = re.search(r"dtype=(\w+)", case_id) if isinstance(case_id, str) else None
    return named.group(1) if named else "float32"


def _migrate_5(df: pd.DataFrame) -> pd.DataFrame:
    """Before version 6 a run's workload showed in its model (the micro-benchmark's) and
    its case id (a training run's steps), its dtype in its identity."""
    out = df.copy()
    case_id = out["case_id"].astype("string")
    training = case_id.str.contains(_V5_STEPS).fillna(False).astype(bool)
    micro = out["model"].astype("string").eq(_V5_SHARING_MODEL).fillna(False).astype(bool)
    out["workload"] = pd.Series("inference", index=out.index).where(~micro, "micro").where(
        ~training, "training")
    identity = out["identity"] if "identity" in out else pd.Series(None, index=out.index)
    texts = [tuple(v if isinstance(v, str) else None for v in pair)
             for pair in zip(identity, out["case_id"], strict=True)]
    found = {pair: _case_dtype(*pair) for pair in set(texts)}  # one parse per run
    out["dtype"] = [found[pair] for pair in texts]
    return out


def conform(df: pd.DataFrame, columns: list[str] = COLUMNS) -> pd.DataFrame:
    """Return ``df`` with exactly ``columns`` (of :data:`COLUMNS`; default all) in order
    and their types.

    Missing columns are filled with NA; extra columns are an error (they would
    silently vanish from later readers).
    """
    extra = sorted(set(df.columns) - set(columns))
    if extra:
        raise SchemaError(f"unknown result columns: {', '.join(extra)}")
    out = df.reindex(columns=columns)
    if "is_warmup" in out:
        out["is_warmup"] = out["is_warmup"].astype("boolean").fillna(False)
    for col in columns:
        if col == "timestamp":
            out[col] = pd.to_datetime(out[col], utc=True, format="ISO8601")
        elif col in DTYPES:
            out[col] = out[col].astype(DTYPES[col])
        else:
            out[col] = out[col].astype("string")
    bad = set(out["status"].dropna()) - set(STATUSES) if "status" in out else set()
    if bad:
        raise SchemaError(f"unknown status values: {', '.join(sorted(bad))}")
    return out
