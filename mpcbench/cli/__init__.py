"""``mpcbench`` command line: one module per command, registered on one typer app."""

from __future__ import annotations

from .app import app

# Command modules register themselves on the app when imported (workflow order).
from . import train, run, train_secure, share_model, sweep, results, versus, report  # noqa: F401  isort: skip
from . import compare, check, clean  # noqa: F401  isort: skip


def main() -> None:
    """Entry point (errors: :class:`.app.Commands`)."""
    app()
