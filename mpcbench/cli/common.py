"""Options shared by several commands, their checks, and stopping a run on a signal."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from ..errors import InputError
from .app import err

ResultsDir = Annotated[
    Path, typer.Option("--results", "-r", help="Results directory (append-only parquet files).")
]
DEFAULT_RESULTS = Path("results")

Options = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s", metavar="KEY=VALUE",
        help="Framework option, e.g. threshold=1, provider=TFP, bit_length=32 (repeatable).",
    ),
]

#: signals that stop a run; the command then exits with 128 + the signal number
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (values parsed as YAML scalars)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--set takes KEY=VALUE, got {pair!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def at_least(low: int) -> Callable[[typer.CallbackParam, Any], Any]:
    """Option callback: :class:`InputError` for a value below ``low`` (None passes)."""

    def check(param: typer.CallbackParam, value: Any) -> Any:
        if value is not None and value < low:
            raise InputError(f"{param.opts[0]} must be at least {low}, got {value:g}")
        return value

    return check


def positive(param: typer.CallbackParam, value: Any) -> Any:
    """Option callback: :class:`InputError` for a value that is not above zero."""
    if value is not None and not value > 0:
        raise InputError(f"{param.opts[0]} must be more than 0, got {value:g}")
    return value


#: options of every command that starts parties (each command gives its own default)
Dataset = Annotated[str, typer.Option("--dataset", "-d", help="mnist or fashion.")]
PartyCount = Annotated[int, typer.Option("--parties", "-n", help="Number of parties.",
                                         callback=at_least(1))]
Timeout = Annotated[float, typer.Option(help="Seconds before all parties are stopped.",
                                        callback=positive)]
Port = Annotated[int | None, typer.Option(help="First port (default: any free ports).",
                                          callback=at_least(1))]


class Stopped(BaseException):
    """A stop signal arrived; a BaseException, so that no ``except Exception`` holds it
    up while the stack unwinds (and the launcher stops every party)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM, SIGHUP and SIGINT into an orderly stop and exit status 128 + signal.

    The first such signal raises :class:`Stopped` in the main thread; later ones are
    ignored while the parties are being stopped.
    """
    received: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        if not received:
            received.append(signum)
            raise Stopped(signum)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    except Stopped as stop:
        with suppress(OSError):  # after SIGHUP the terminal may be gone
            err.print(f"stopped by {stop}; every party stopped", highlight=False)
        raise typer.Exit(128 + stop.signum) from None
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
