"""The party program: every rank of every framework runs this same entry point.

    python -m mpcbench.parties.worker --spec run/spec.json --rank 1
    ssh host2 'cd mpcbench && .venv/bin/python -m mpcbench.parties.worker --spec - --rank 2' \
        < spec.json

It reads its arguments, starts its pulse (:mod:`.lifeline`: from then on a heartbeat
every half second, whatever the party does), and only then reads the run spec and imports
what a party does (:mod:`.program`: its framework), so a party that freezes in
those imports is seen like one that freezes later. It reports on standard output, in lines
starting with :data:`MARKER`: progress, then one result line. Standard output is the only
channel back, so a party on another host needs nothing but a way to run this command.
With ``--watch-stdin`` the party exits when its standard input closes (the launcher passes
the spec, if any, as the first line and holds the pipe open).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import injection
from . import lifeline, pulse
from .context import read_spec

#: prefix of the worker's report lines: ``@mpcbench progress DONE TOTAL``,
#: ``@mpcbench heartbeat STEP ...`` (from the pulse) and ``@mpcbench result {json}``
MARKER = pulse.MARKER


def main(argv: list[str] | None = None) -> None:
    """Parse ``--spec`` and ``--rank`` and run that party."""
    parser = argparse.ArgumentParser(description="Run one mpcbench party.")
    parser.add_argument("--spec", required=True,
                        help="run spec written by the launcher (a file, or - for stdin)")
    parser.add_argument("--rank", type=int, required=True, help="0-based rank of this party")
    parser.add_argument("--run", default="",
                        help="id of the run (names it in the process list; the spec has it)")
    parser.add_argument("--watch-stdin", action="store_true",
                        help="exit when standard input (a pipe the launcher holds) closes; "
                             "with --spec -, the spec is its first line")
    args = parser.parse_args(argv)
    injection.at("boot", args.rank)
    lifeline.die_with_launcher()
    if args.spec != "-":
        text = Path(args.spec).read_text()
    elif args.watch_stdin:
        text = lifeline.read_line()
    else:
        text = sys.stdin.read()
    if args.watch_stdin:
        lifeline.exit_at_eof()
    # Frameworks that parse sys.argv themselves (MPyC) must not see ours.
    sys.argv = sys.argv[:1]
    with lifeline.pulsed_output():
        injection.at("start", args.rank)
        ctx = read_spec(text, args.rank)
        os.environ.setdefault("OMP_NUM_THREADS", str(ctx.threads))
        from .program import run_party  # the framework: the pulse is beating

        run_party(ctx)
    injection.at("exit", args.rank)


if __name__ == "__main__":
    main()
    # Done and reported: end now. The interpreter's teardown frees every object one by one
    # (an MPyC party's hundreds of MiB of integers took 5-10 s at 16 parties on 2 cores)
    # and has nothing left to do for the run.
    sys.stderr.flush()
    os._exit(0)
