"""Emulator overhead: 2-host TCP ping-pong and bulk transfer on loopback vs emulated links.

Run as root: ``python benchmarks/network_overhead.py [--repeats N]``. Prints, per path,
the median RTT (200 one-byte TCP ping-pongs) and bulk TCP throughput (0.5 s or 32 MiB)
and their cost relative to plain loopback; ``zero`` is the emulator with ideal links
(its own overhead), ``lan`` the 0.1 ms / 10 Gbit/s profile.
"""

from __future__ import annotations

import argparse
import statistics
from contextlib import nullcontext

from mpcbench.launch.network import Emulator, Host
from mpcbench.launch.network.probe import rtt, throughput

PATHS = ("loopback", "zero", "lan")


def measure(path: str, repeats: int) -> tuple[float, float]:
    """Median RTT (s) and median bulk rate (bit/s) between two hosts over ``path``."""
    emulator = nullcontext() if path == "loopback" else Emulator(path, 2)
    with emulator as emu:
        a, b = (Host.local(0), Host.local(1)) if emu is None else emu.hosts
        rtts = [rtt(a, b, pings=200) for _ in range(repeats)]
        rates = [throughput(a, b) for _ in range(repeats)]
    return statistics.median(rtts), statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = {path: measure(path, args.repeats) for path in PATHS}
    base_rtt, base_rate = results["loopback"]
    print(f"{'path':<10}{'RTT us':>10}{'vs loopback':>14}{'Gbit/s':>10}{'vs loopback':>14}")
    for path, (r, rate) in results.items():
        print(f"{path:<10}{r * 1e6:>10.1f}{f'+{(r - base_rtt) * 1e6:.1f} us':>14}"
              f"{rate / 1e9:>10.2f}{f'{rate / base_rate:.0%}':>14}")


if __name__ == "__main__":
    main()
