"""A synthetic but schema-conformant results table for report and compare tests.

It has the shapes real runs produce (per-rank phase rows, run-level rows with rank -1,
warm-up repeats, a failed run) plus what no launcher writes yet: an MPyC threshold-0
run, a feedback baseline and sharing micro-benchmark rows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from mpcbench.results import store
from mpcbench.results.schema import RANK_METRICS, conform

PROVENANCE = {
    "hostname": "bench-host", "os": "Linux 6.1", "cpu_model": "Example CPU @ 2.0GHz",
    "cpu_cores": 2, "ram_bytes": 8 * 2**30, "python_version": "3.11.2",
    "torch_version": "2.13.0", "numpy_version": "2.0.0", "mpcbench_version": "0.1.0",
    "git_commit": "a" * 40,
    "git_dirty": False, "threads_per_party": 1,
}

OWNERS = {"data_owners": "0", "model_owner": 0, "output": "owners"}

SECURITY = {
    "plaintext": {"protocol": "none", "threshold": None, "provider": "none", "adversary": "none"},
    "crypten": {"protocol": "arithmetic secret sharing", "provider": "TFP",
                "adversary": "semi-honest"},
    "mpyc": {"protocol": "Shamir secret sharing", "provider": "PRSS", "adversary": "semi-honest"},
    "feedback": {"protocol": "none", "threshold": None, "provider": "none", "adversary": "none"},
}

#: what each backend declares: its kind and package versions (stored on every row)
DECLARED = {
    "plaintext": {"kind": "plaintext", "framework_versions": '{"torch": "2.13.0"}'},
    "crypten": {"kind": "mpc", "framework_versions": '{"crypten": "0.4.1"}'},
    "mpyc": {"kind": "mpc", "framework_versions": '{"gmpy2": "2.2.1", "mpyc": "0.11"}'},
    "feedback": {"kind": "baseline", "framework_versions": '{"torch": "2.13.0"}'},
}
SECURITY = {fw: {**sec, **DECLARED[fw]} for fw, sec in SECURITY.items()}


def _run(seq: int, framework: str, model: str, parties: int, *, batch: int = 16,
         images: int = 32, repeats: int = 3, warmup: int = 1, threshold: int | None = None,
         speed: float = 1.0, case_id: str | None = None, seed: int = 0,
         network: str = "none", **columns: object) -> pd.DataFrame:
    """Rows of one run shaped like the worker's and runner's output; on an emulated
    ``network`` (see :data:`NETWORKS`) every repeat waits 10 rounds x RTT per batch.
    ``columns`` (e.g. ``config``, ``provider``) override the stored values."""
    rng = np.random.default_rng(seed + seq)
    run_id = f"run{seq:03d}"
    rows = []
    for rank in range(parties):
        for rep in range(warmup + repeats):
            phases = {p: speed * rng.uniform(0.5, 1.5) * images / 100
                      for p in ("share", "infer", "reveal")}
            phases["total"] = sum(phases.values()) * (1 + 0.1 * rank)
            if rep == 0:
                phases["setup"] = speed * 0.3
            wait = 2 * NETWORKS[network][0] * 10 * (images // batch)
            phases = {p: w + wait * (p in ("infer", "total")) for p, w in phases.items()}
            for phase, wall in phases.items():
                values = {"wall_s": wall, "cpu_s": wall * 0.9,
                          "peak_rss_bytes": 1e8 * (1 + rank) * (phase == "total") + 5e7,
                          "bytes_sent": 1e5 * parties * images * (framework != "plaintext"),
                          "bytes_received": 1e5 * parties * images * (framework != "plaintext"),
                          "rounds": 10 * (images // batch) * (framework != "plaintext"),
                          "bytes_sent_offline": 0.0, "bytes_received_offline": 0.0}
                rows += [{"rank": rank, "repeat": rep, "is_warmup": rep < warmup,
                          "phase": phase, "metric": m, "value": float(values[m]), "unit": u}
                         for m, u in RANK_METRICS.items()]
    acc = 0.95 - 0.01 * (framework != "plaintext")
    rows += [{"rank": -1, "repeat": 0, "is_warmup": False, "phase": "total", "metric": m,
              "value": v, "unit": "ratio"}
             for m, v in [("accuracy", acc), ("plain_accuracy", 0.95),
                          ("agreement", 0.99 if framework != "plaintext" else 1.0)]]
    sec = dict(SECURITY[framework])
    if framework != "plaintext":
        default = parties - 1 if framework == "crypten" else (parties - 1) // 2
        sec["threshold"] = default if threshold is None else threshold
    cid = case_id or f"{framework}/{model}(dataset=mnist,n={parties},b={batch})"
    if network != "none":
        cid = cid[:-1] + f",net={network})"
    return pd.DataFrame(rows).assign(
        network=network, backend_config=_placement(network),
        run_id=run_id, timestamp=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=seq),
        case_id=cid, framework=framework, model=model, workload="inference", dataset="mnist",
        parties=parties, batch=batch, images=images, dtype="float32", status="ok",
        case_fingerprint=f"fp-{cid}",
        **OWNERS, **{**sec, **columns}, **PROVENANCE,
    )


#: emulated networks of the synthetic runs: one-way delay (s) and rate (bit/s)
NETWORKS = {"none": (0.0, None), "lan1g": (0.25e-3, 1e9), "wan": (35e-3, 320e6),
            "falcon-lan": (0.13e-3, None)}


def _placement(network: str) -> str:
    """A run's ``backend_config`` with its placement, as the runner stores it."""
    if network == "none":
        return json.dumps({"placement": {"kind": "local"}})
    delay, rate = NETWORKS[network]
    link = {"delay_s": delay, "jitter_s": 0.0, "rate_bps": rate, "loss": 0.0}
    probe = [{"src": 0, "dst": 1, "requested_rtt_s": 2 * delay,
              "measured_rtt_s": 2 * delay * 1.02 + 2e-5,
              "measured_rate_bps": None if rate is None else rate * 0.97}]
    return json.dumps({"placement": {"kind": "emulated", "network": {
        "profile": {"name": network, "default": link}}, "probe": {"links": probe}}})


def _failed(seq: int) -> pd.DataFrame:
    return pd.DataFrame([{
        "run_id": f"run{seq:03d}", "timestamp": datetime(2025, 1, 2, tzinfo=UTC),
        "case_id": "crypten/cnn(dataset=mnist,n=7,b=16)", "framework": "crypten", "model": "cnn",
        "dataset": "mnist", "parties": 7, "batch": 16, "images": 32, "rank": -1, "repeat": 0,
        "phase": "total", "metric": "wall_s", "value": np.nan, "unit": "s", "status": "timeout",
        "error": "run timed out after 600 s; parties 3, 5 still running",
        **SECURITY["crypten"], "threshold": 6, **OWNERS, **PROVENANCE,
    }])


def _feedback(seq: int) -> pd.DataFrame:
    metrics = {"accuracy": 0.97, "accuracy_noisy": 0.9, "accuracy_fgsm": 0.6,
               "accuracy_pgd": 0.4, "attack_mse": 0.05, "s_per_img": 0.002,
               "img_per_s": 500.0, "feature_bytes": 4096.0}
    return pd.DataFrame([{"rank": -1, "repeat": 0, "is_warmup": False, "phase": "total",
                          "metric": m, "value": v, "unit": ""} for m, v in metrics.items()]).assign(
        run_id=f"run{seq:03d}", timestamp=datetime(2025, 1, 3, tzinfo=UTC),
        case_id="feedback/cnn(dataset=mnist)", framework="feedback", model="cnn",
        dataset="mnist", parties=2, batch=64, images=256, status="ok", **SECURITY["feedback"],
        **PROVENANCE,
    )


def _micro(seq: int, framework: str, dtype: str, speed: float) -> pd.DataFrame:
    """Micro-benchmark rows: per rank and repeat ``load`` (data owner only does work),
    ``share`` and ``total``; share time ``speed * (1 + 0.05 * repeat + 0.01 * rank)``."""
    rows = []
    for r in range(2 if framework != "plaintext" else 1):
        for rep in range(3):
            load = 0.2 if r == 0 else 0.0
            share = speed * (1 + 0.05 * rep + 0.01 * r)
            phases = {"load": (load, 1.5e8), "share": (share, speed * 2e8 + 1e7 * r),
                      "total": (load + share, speed * 2e8 + 1e7 * r)}
            rows += [{"rank": r, "repeat": rep, "is_warmup": False, "phase": phase,
                      "metric": m, "value": v, "unit": u}
                     for phase, (wall, rss) in phases.items()
                     for m, v, u in [("wall_s", wall, "s"), ("peak_rss_bytes", rss, "B")]]
    n = 2 if framework != "plaintext" else 1
    cid = f"{framework}/micro(dataset=mnist,n={n},b=60000,dtype={dtype})"
    return pd.DataFrame(rows).assign(
        run_id=f"run{seq:03d}", timestamp=datetime(2025, 1, 4, tzinfo=UTC), case_id=cid,
        framework=framework, model="micro", workload="micro", dataset="mnist", parties=n,
        batch=60000, images=60000, dtype=dtype, status="ok", **SECURITY[framework],
        **({"threshold": 1} if framework == "crypten" else {}), **OWNERS, **PROVENANCE,
    )


def synthetic(seed: int = 0, slow: float = 1.0) -> list[pd.DataFrame]:
    """The runs of the synthetic table; ``slow`` scales every crypten time."""
    runs = [
        _run(1, "plaintext", "mlp", 1, speed=0.01, seed=seed),
        _run(2, "plaintext", "cnn", 1, speed=0.05, seed=seed),
        _run(3, "crypten", "mlp", 2, speed=0.5 * slow, seed=seed),
        _run(4, "crypten", "mlp", 3, speed=0.8 * slow, seed=seed),
        _run(5, "crypten", "cnn", 2, speed=3.0 * slow, seed=seed),
        _run(6, "crypten", "cnn", 3, speed=5.0 * slow, seed=seed),
        _run(7, "mpyc", "mlp", 3, speed=2.0, seed=seed),
        _run(8, "mpyc", "mlp", 3, speed=1.5, threshold=0, seed=seed),
        _run(9, "crypten", "mlp", 2, batch=32, speed=0.4 * slow, seed=seed),
        _failed(10),
        _feedback(11),
        _run(15, "crypten", "mlp", 2, speed=0.5 * slow, seed=seed, network="lan1g"),
        _run(16, "crypten", "mlp", 2, speed=0.5 * slow, seed=seed, network="wan"),
        _micro(12, "plaintext", "float32", 0.1),
        _micro(13, "crypten", "float32", 2.0),
        _micro(14, "crypten", "float64", 2.5),
    ]
    return [conform(r) for r in runs]


def many_systems() -> list[pd.DataFrame]:
    """Runs of many systems at 2 and 3 parties, as a sweep over variants and settings
    stores them: CrypTen stock and tuned with a TFP and a TTP dealer, MPyC stock and
    tuned at two bit lengths (t = 0 at 2 parties, t = 1 at 3), plaintext, on two
    models, and CrypTen over two emulated networks."""
    runs, seq = [], 100
    crypten = [f"provider={p}, variant={v}" for p in ("TFP", "TTP") for v in ("stock", "tuned")]
    mpyc = [f"bit_length={b}, variant={v}" for b in (16, 32) for v in ("stock", "tuned")]
    for model in ("mlp", "cnn"):
        seq += 1
        runs.append(_run(seq, "plaintext", model, 1, speed=0.01, config=""))
        for parties in (2, 3):
            for config in crypten:
                seq += 1
                runs.append(_run(seq, "crypten", model, parties, speed=0.5, config=config,
                                 provider=config.split(",")[0].split("=")[1]))
            for config in mpyc:
                seq += 1
                runs.append(_run(seq, "mpyc", model, parties, speed=2.0, config=config))
    for network in ("lan1g", "wan"):
        seq += 1
        runs.append(_run(seq, "crypten", "mlp", 2, speed=0.5, network=network,
                         config=crypten[0], provider="TFP"))
    return [conform(r) for r in runs]


def write(results_dir, seed: int = 0, slow: float = 1.0):
    """Store the synthetic runs in ``results_dir`` (one parquet file per run)."""
    for run in synthetic(seed, slow):
        store.append(run, results_dir)
    return results_dir
