"""Options shared by several commands, their checks where they enter (ranges, paths,
names), and stopping a run on a signal."""

from __future__ import annotations

import signal
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.text import Text

from ..case import EPOCH_IMAGES
from ..errors import InputError
from ..launch import names
from .app import err

if TYPE_CHECKING:
    import pandas as pd

#: the most images of a split of the vendored datasets (MNIST, Fashion-MNIST): counts
#: beyond them are refused where they enter (the loader checks the exact size)
TRAIN_IMAGES, TEST_IMAGES = EPOCH_IMAGES, 10_000
#: the most threads a process may ask for
MAX_THREADS = 1024
#: the most repeats, warm-up or measured, of a run
MAX_REPEATS = 1000
#: the longest timeout: a week
MAX_TIMEOUT_S = 7 * 24 * 3600
#: the largest random seed (numpy's)
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class PathCheck:
    """Callback of a path option (given as text, ``parser=str``): refuses an empty path
    (it would be "."), a missing one if it must ``exist``, one of the wrong ``kind``
    (``"file"``; ``"dir"``: also a missing one below a file), and, if ``writable``, a
    directory that cannot be created or written. That is tried, not asked: as root every
    permission check passes, even where writing fails (under /proc). Nothing is left
    behind."""

    exists: bool = False
    kind: str | None = None
    writable: bool = False

    def __call__(self, value: str | Path | None) -> Path | None:
        if value is None:
            return None
        if not str(value):
            raise typer.BadParameter("empty path")
        path = Path(value)
        if self.exists and not path.exists():
            raise typer.BadParameter(f"{path} does not exist")
        if self.kind == "file" and path.exists() and not path.is_file():
            raise typer.BadParameter(f"{path} is not a file")
        if self.kind == "dir":
            existing = next(p for p in (path, *path.parents) if p.exists())
            if not existing.is_dir():
                raise typer.BadParameter(f"{existing} is not a directory")
            if self.writable:
                self._check_writable(existing)
        return path

    @staticmethod
    def _check_writable(directory: Path) -> None:
        """:class:`typer.BadParameter` unless a file can be made in ``directory`` (an
        unnamed one where the file system allows)."""
        try:
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as exc:
            raise typer.BadParameter(f"cannot write in {directory}: {exc.strerror}") from None


def literal(cells: Iterable[object]) -> list[Text]:
    """Table cells shown as they are: brackets in a label (``fw[protocol]``, ``[TFP t=1]``)
    are text, not console markup."""
    return [Text(str(cell)) for cell in cells]


def nonempty(value: str | None) -> str | None:
    """Option callback: refuses an empty value (an unset variable, say), which would
    silently mean the default."""
    if value == "":
        raise typer.BadParameter("must not be empty")
    return value


def name_check(check: Callable[[str], None]) -> Callable[[str | None], str | None]:
    """Callback of an option naming a framework, model, dataset or network: ``check``
    (of :mod:`mpcbench.launch.names`, which imports none of them) refuses a name nothing
    has, before the command imports anything heavy; an empty value is refused too."""

    def callback(value: str | None) -> str | None:
        if value is None:
            return None
        nonempty(value)
        try:
            check(value)
        except InputError as exc:
            raise typer.BadParameter(str(exc)) from None
        return value

    return callback


def positive(value: float | None) -> float | None:
    """Option callback: refuses 0 (``min=0`` refuses the rest)."""
    if value == 0:
        raise typer.BadParameter("must be more than 0")
    return value


def stored_only(frame: pd.DataFrame, column: str, value: str, refusal: str) -> pd.DataFrame:
    """The rows of ``frame`` whose ``column`` is ``value``; if there are none,
    :class:`InputError`: ``refusal`` and the values ``frame`` holds (``its models: ...``)."""
    stored = sorted(frame[column].dropna().unique())
    if value not in stored:
        raise InputError(f"{refusal}; its {column}s: {', '.join(stored) or 'none'}")
    return frame[frame[column] == value]


#: callbacks of the options naming a framework, a model and a network
FrameworkName = name_check(names.check_framework)
ModelName = name_check(names.check_model)
NetworkName = name_check(names.check_network)

#: where runs are appended (created if missing)
ResultsDir = Annotated[Path, typer.Option(
    "--results", "-r", parser=str, callback=PathCheck(kind="dir", writable=True),
    help="Results directory (append-only parquet files).")]
#: stored results to read: a results directory or one results file
StoredResults = Annotated[Path, typer.Option(
    "--results", "-r", parser=str, callback=PathCheck(exists=True),
    help="Results directory (or one results file).")]
DEFAULT_RESULTS = Path("results")
#: callback of a directory a command writes files to (created if missing)
OutDir = PathCheck(kind="dir", writable=True)

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


#: options of every command that starts parties (each command gives its own default)
Dataset = Annotated[str, typer.Option(
    "--dataset", "-d", callback=name_check(names.check_dataset),
    help="mnist, fashion, or synthetic (seeded random images of the model's input shape, "
         "random labels: no accuracy; seeded weights).")]
PartyCount = Annotated[int, typer.Option("--parties", "-n", help="Number of parties.", min=1)]
Timeout = Annotated[float, typer.Option(help="Seconds before all parties are stopped.",
                                        min=1, max=MAX_TIMEOUT_S)]
Port = Annotated[int | None, typer.Option(help="First port (default: any free ports).",
                                          min=1, max=65535)]
Threads = Annotated[int | None, typer.Option(help="Threads per party (default: cores / "
                                             "parties).", min=1, max=MAX_THREADS)]


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
