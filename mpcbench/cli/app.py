"""The typer application every command module registers with, and the consoles it prints to."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

app = typer.Typer(
    name="mpcbench",
    help="Benchmark secure (MPC) inference with CrypTen and MPyC against plaintext PyTorch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def data_console() -> Console:
    """The console of data on stdout: as wide as the terminal (or $COLUMNS); piped to a
    file without $COLUMNS, 200 columns instead of the 80 rich assumes off a terminal."""
    return Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200)


#: progress and messages go to stderr; data (tables, csv, json) to stdout
err = Console(stderr=True)
out = data_console()
