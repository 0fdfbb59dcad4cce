"""How reading a results store grows with the runs in it: N synthetic runs, four commands.

    python benchmarks/store_scale.py 10000                 # one store of 10 000 runs
    python benchmarks/store_scale.py 100 1000 10000        # the growth, one row per size

Each size gets a temporary results directory of N runs that follow the schema exactly:
the real runs of ``tests/data/results-real`` (plaintext, CrypTen at 2 and 3 parties, a
timeout, a baseline: 1 to 318 rows each) taken in turn, each with its own run id and
time and its measured values scaled by a random factor, written as result files and
indexed in the runs table as :func:`mpcbench.results.store.append` leaves them. Then, each
in a fresh process, the script times ``mpcbench results --format csv``, the sweep's skip
check (``Claims.stored``, what ``mpcbench sweep`` reads before its first cell; and the
whole ``mpcbench sweep benchmarks/demo.yaml --dry-run``), ``mpcbench compare`` of two runs
and ``mpcbench report``, with each process's peak RSS, and prints one table. The
directory is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from mpcbench.results import catalog, files

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "tests" / "data" / "results-real"
SUITE = REPO / "benchmarks" / "demo.yaml"
#: the runs of a store are made one second apart from this time
START = pd.Timestamp("2026-01-01T00:00:00Z")


def write_store(results_dir: Path, runs: int, seed: int = 0) -> None:
    """Write ``runs`` synthetic runs into the empty directory ``results_dir`` and index
    them in its runs table."""
    rng = np.random.default_rng(seed)
    templates = [files.split(files.read_file(path)) for path in files.run_files(TEMPLATES)]
    results_dir.mkdir(parents=True)
    for i in range(runs):
        rows, record = templates[i % len(templates)]
        when = START + pd.Timedelta(seconds=i)
        run_id = f"{when:%Y%m%dT%H%M%S}-{i:08x}"
        scale = rng.lognormal(0.0, 0.1, len(rows))
        files.write(rows.assign(run_id=run_id, value=rows["value"] * scale),
                    {**record, "run_id": run_id, "timestamp": when.isoformat()},
                    results_dir / f"{i + 1:04d}-{run_id}.parquet")
    catalog.write(catalog.rebuild(results_dir), results_dir)


def timed(argv: list[str]) -> tuple[float, float, str]:
    """Seconds and peak RSS (MiB) of ``argv`` run in a fresh process, and its stdout."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "took = time.perf_counter() - t; "
             "sys.stderr.write(p.stderr) if p.returncode > 1 else None; "
             "print(took, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "
             "p.returncode); print(p.stdout[-2000:])")
    res = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True,
                         check=True, cwd=REPO)
    head, _, body = res.stdout.partition("\n")
    took, rss, code = head.split()
    if int(code) > 1:
        raise SystemExit(f"{' '.join(argv)} exited {code}: {res.stderr}")
    return float(took), float(rss), body


SKIP_CHECK = ("import sys, time; from mpcbench.results.claims import Claims; "
              "t = time.perf_counter(); ok = Claims(sys.argv[1]).stored(); "
              "print(f'{time.perf_counter() - t:.3f} s, {len(ok)} runs stored ok')")


def measure(runs: int, workdir: Path) -> dict[str, str]:
    """The table row of a store of ``runs`` runs written under ``workdir``."""
    store = workdir / f"results-{runs}"
    start = time.perf_counter()
    write_store(store, runs)
    written = time.perf_counter() - start
    mpcbench = [sys.executable, "-m", "mpcbench"]
    ids = sorted(files.run_id_of(p) for p in files.run_files(store))
    row = {"runs": f"{runs:,}", "MB": f"{sum(p.stat().st_size for p in store.iterdir()) / 1e6:.0f}",
           "write s": f"{written:.1f}"}
    commands = {
        "results": [*mpcbench, "results", "-r", str(store), "--format", "csv"],
        "skip check": [sys.executable, "-c", SKIP_CHECK, str(store)],
        "sweep --dry-run": [*mpcbench, "sweep", str(SUITE), "-r", str(store), "--dry-run"],
        "compare": [*mpcbench, "compare", ids[1], ids[6], "-r", str(store)],
        "report": [*mpcbench, "report", "-r", str(store), "-o", str(workdir / f"report-{runs}")],
    }
    for name, argv in commands.items():
        took, rss, out = timed(argv)
        inner = f" ({out.split(' s,')[0]} s inside)" if name == "skip check" else ""
        row[name] = f"{took:.2f} s{inner}, {rss:.0f} MiB"
    shutil.rmtree(store)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=int, nargs="+", help="Sizes of the stores to time.")
    args = parser.parse_args(argv)
    table = Table(title=f"results store at scale ({os.cpu_count()} cores)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mpcbench-scale-") as tmp:
        for runs in args.runs:
            rows.append(measure(runs, Path(tmp)))
            print(" | ".join(rows[-1].values()), file=sys.stderr, flush=True)
    for name in rows[0]:
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(*row.values())
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
