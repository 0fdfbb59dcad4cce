"""The typer application every command module registers with, and the consoles it prints to."""

from __future__ import annotations

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

#: progress and messages go to stderr; data (tables, csv, json) to stdout. Tables piped
#: to a file keep full width instead of the 80 columns rich assumes off a terminal.
err = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 200)
