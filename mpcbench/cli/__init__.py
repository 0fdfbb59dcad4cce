"""``mpcbench`` command line: one module per command, registered on one typer app."""

from __future__ import annotations

import sys

from ..errors import MpcbenchError
from .app import app, err

# Command modules register themselves on the app when imported (workflow order).
from . import train, run, train_secure, share_model, sweep, results, report, compare, clean  # noqa: F401  isort: skip


def main() -> None:
    """Entry point: project errors become one line on stderr and their exit code."""
    try:
        app()
    except MpcbenchError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
