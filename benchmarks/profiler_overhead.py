"""The profiler's own overhead: the same run with the per-phase probes on and off.

    python benchmarks/profiler_overhead.py                      # crypten mlp, 2 parties
    python benchmarks/profiler_overhead.py --framework mpyc --parties 3 --images 64

With the probes off (environment ``MPCBENCH_PROFILE=0``, see
:mod:`mpcbench.parties.profiler`) a party times only ``setup`` and ``total``: no barrier
before each phase, no counter reads, no peak-memory resets. Runs alternate on / off (so
load on the machine hits both alike). Each run gives the ``total`` time of its repeats
(slowest party); the overhead is ``on / off - 1`` of the fastest repeat of each pair of
runs (other load on the machine only ever adds time), as the median over pairs, and of
the fastest repeat over all runs. On a loaded machine these differences are noise-bound;
the script also prints what the probes cost inside one process (memory and phase
bookkeeping without the backend's counters and barriers), per phase and per repeat.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from mpcbench.case import Case
from mpcbench.launch.runner import run_case
from mpcbench.parties.base import CommCounters
from mpcbench.parties.profiler import PROFILE_ENV, Profiler
from mpcbench.results import load


def probe_cost_s(phases: int = 20000) -> float:
    """Seconds one phase's local probes take (peak-memory reset and reads, bookkeeping)."""
    counters = CommCounters()
    prof = Profiler(lambda: counters, lambda: None, enabled=True)
    start = time.perf_counter()
    for i in range(phases):
        with prof.phase("infer", i % 4):
            pass
    return (time.perf_counter() - start) / phases


def _phases_per_repeat(case: Case) -> int:
    batches = -(-case.images // case.batch)
    return 1 + (1 + batches) + 2 * batches  # total, share (model + inputs), infer, reveal


def _totals(results_dir: Path, run_id: str) -> list[float]:
    """The slowest party's ``total`` wall time of each measured repeat."""
    rows = load(results_dir)
    rows = rows[(rows["run_id"] == run_id) & (rows["phase"] == "total")
                & (rows["metric"] == "wall_s") & (rows["rank"] >= 0) & ~rows["is_warmup"]]
    return [float(v) for v in rows.groupby("repeat")["value"].max()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--framework", default="crypten")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--parties", type=int, default=2)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=3, help="on/off run pairs")
    parser.add_argument("--set", "-s", action="append", default=[], metavar="KEY=VALUE",
                        help="framework option (repeatable)")
    args = parser.parse_args(argv)
    import yaml

    options = {k: yaml.safe_load(v) for k, _, v in (o.partition("=") for o in args.set)}
    case = Case(args.framework, args.model, parties=args.parties, images=args.images,
                batch=args.batch, repeats=args.repeats, warmup=1, options=options)
    times: dict[str, list[float]] = {"on": [], "off": []}
    pairs: list[float] = []
    fastest: dict[str, float] = {}
    saved = os.environ.get(PROFILE_ENV)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for i in range(args.pairs):
                for mode in (("on", "off") if i % 2 == 0 else ("off", "on")):
                    os.environ[PROFILE_ENV] = "1" if mode == "on" else "0"
                    res = run_case(case, Path(tmp) / mode)
                    totals = _totals(Path(tmp) / mode, res.run_id)
                    times[mode] += totals
                    fastest[mode] = min(totals)
                    if len(fastest) == 2:  # both runs of the pair done
                        pairs.append(fastest.pop("on") / fastest.pop("off") - 1)
                    print(f"pair {i + 1}/{args.pairs} profiler {mode:3s}: repeats "
                          f"{min(totals):.4f} s (fastest) {statistics.median(totals):.4f} s "
                          "(median)", flush=True)
        finally:
            if saved is None:
                os.environ.pop(PROFILE_ENV, None)
            else:
                os.environ[PROFILE_ENV] = saved
    on, off = min(times["on"]), min(times["off"])
    print(f"{case.case_id}, {args.pairs} pairs x {args.repeats} repeats: profiler overhead "
          f"{100 * statistics.median(pairs):+.1f} % (median over pairs of the fastest repeats; "
          f"per pair {', '.join(f'{100 * p:+.1f}' for p in pairs)} %); fastest repeat overall "
          f"{on:.4f} s profiled vs {off:.4f} s unprofiled: {100 * (on / off - 1):+.1f} %")
    cost, per_repeat = probe_cost_s(), _phases_per_repeat(case)
    print(f"local probe cost {1e6 * cost:.1f} us per phase x {per_repeat} phases per repeat "
          f"= {100 * cost * per_repeat / off:.2f} % of the fastest unprofiled repeat "
          "(plus one barrier and two counter reads per phase)")


if __name__ == "__main__":
    main()
