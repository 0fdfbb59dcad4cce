"""The typer application every command module registers with, the consoles it prints to,
and how it ends: every error a user can cause or meet is one line on stderr."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer's own click
from typer.core import TyperGroup

from ..errors import MpcbenchError, SystemRefused

#: progress and messages go to stderr; data (tables, csv, json) to stdout. Tables are as
#: wide as the terminal (rich measures it); piped to a file, 200 columns instead of the
#: 80 rich assumes off a terminal.
err = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 200)


def fail(message: str, status: int) -> NoReturn:
    """End the command with ``message`` as one line on stderr and exit ``status``."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(status)


def warn(message: str) -> None:
    """Print ``message`` as one warning line on stderr (the command goes on)."""
    err.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False, soft_wrap=True)


class Commands(TyperGroup):
    """The command group. Whoever calls it (the ``mpcbench`` script, ``python -m``,
    typer's test runner) gets a usage error (bad option, bad value), a project error
    (:class:`MpcbenchError`) and an error of the operating system (:class:`SystemRefused`)
    as one line and their exit status."""

    def main(self, *args: Any, **kwargs: Any) -> NoReturn:
        try:
            try:
                status = super().main(*args, **{**kwargs, "standalone_mode": False})
            except OSError as exc:
                raise SystemRefused.wrap(exc) from exc
        except NoArgsIsHelpError as exc:
            sys.exit(exc.exit_code)  # the help is printed already
        except ClickException as exc:
            fail(f"{exc.format_message()} (see {exc.ctx.command_path} --help)"
                 if getattr(exc, "ctx", None) else exc.format_message(), exc.exit_code)
        except MpcbenchError as exc:
            fail(str(exc), exc.exit_code)
        sys.exit(status if isinstance(status, int) else 0)


app = typer.Typer(
    name="mpcbench",
    help="Benchmark secure (MPC) inference with CrypTen and MPyC against plaintext PyTorch.",
    cls=Commands,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
