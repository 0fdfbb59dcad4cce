"""Every option of every command refuses bad values where it enters: one line on stderr,
exit 2, no traceback, before any party starts (or training, a report, a clean-up begins),
and the results directory as it was; an error of the operating system is one line and
exit 1.

The options are found by introspecting the typer app (no hand-kept list). The bad values
come from a table per option type, narrowed by what the option declares: its range
(``min``/``max``) or, for a path, its :class:`~mpcbench.cli.common.PathCheck`. The
commands run in this process through typer's test runner, which goes through the same
command group (:class:`~mpcbench.cli.app.Commands`) as the ``mpcbench`` script.
"""

from __future__ import annotations

import enum
import errno
import hashlib
import os
import shutil
import socket
import typing
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from mpcbench.cli import app
from mpcbench.cli.common import PathCheck

REAL = Path(__file__).parents[1] / "data" / "results-real"
COMMANDS = typer.main.get_command(app).commands
#: valid values of the parameters a command requires (its bad values come from the table)
REQUIRED = {"model": "mlp", "suite": "<suite>", "a": "<results>", "b": "<results>"}
#: a directory under /proc: creating anything there fails, even for root
UNDER_PROC = "/proc/mpcbench-bad-input/results"
HUGE = str(2**64)


class Started(BaseException):
    """Raised where a command would begin its work: start parties, train, build a
    report (a BaseException: no ``except Exception`` of a sweep, nor the test runner,
    holds it)."""


def _number_values(param) -> list[str]:
    """Bad values of an int or float option: no number, not finite, huge, or outside
    the range the option declares."""
    number = param.type_descriptor.annotation
    candidates = (["-1", "0", HUGE, "x", "", "1.5"] if number is int
                  else ["-1", "0", "nan", "inf", "-inf", "1e400", "x", ""])
    bad = []
    for text in candidates:
        try:
            value = number(text)
        except ValueError:
            bad.append(text)
            continue
        finite = value == value and abs(value) != float("inf")
        below = param.min is not None and value < param.min
        above = param.max is not None and value > param.max
        if not finite or text == HUGE or below or above:
            bad.append(text)
    return bad


def _path_check(param) -> PathCheck:
    return param.type_descriptor.parameter_info.callback


def _path_values(param) -> list[str]:
    """Bad values of a path option, from its :class:`PathCheck`."""
    check = _path_check(param)
    bad = [""]
    if check.exists:
        bad.append("<missing>")
    if check.kind == "dir":
        bad += ["<file>", "<under-file>"]
    if check.kind == "file":
        bad.append("<dir>")
    if check.writable:
        bad.append(UNDER_PROC)
    return bad


def _bad_values(param) -> list[str]:
    annotation = param.type_descriptor.annotation
    if typing.get_origin(annotation) is list:
        (annotation,) = typing.get_args(annotation)
    if annotation in (int, float):
        return _number_values(param)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return ["no-such-choice", ""]
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return _path_values(param)
    return ["", "no-such-name", "1;;x"]


def _params():
    for name, command in COMMANDS.items():
        for param in command.params:
            if not getattr(param, "is_flag", False):  # a flag takes no value
                yield name, param


def _cases() -> list:
    return [pytest.param(name, param.name, value, id=f"{name} {param.opts[0]}={value!r}")
            for name, param in _params() for value in _bad_values(param)]


@pytest.fixture(scope="module")
def place(tmp_path_factory) -> dict[str, Path]:
    """Paths the symbolic values stand for; the results directory is a copy of REAL."""
    base = tmp_path_factory.mktemp("bad-input")
    shutil.copytree(REAL, base / "results")
    (base / "file").write_text("a regular file\n")
    (base / "dir").mkdir()
    (base / "suite.yaml").write_text("frameworks: [plaintext]\nimages: 8\n")
    return {"<results>": base / "results", "<file>": base / "file",
            "<under-file>": base / "file" / "x", "<dir>": base / "dir",
            "<missing>": base / "missing", "<suite>": base / "suite.yaml"}


@pytest.fixture(autouse=True)
def cleaned(monkeypatch) -> list[Path]:
    """Where a command would begin its work it raises :class:`Started`; the clean-up
    after dead runs (machine-wide) is only noted, in the list returned."""
    from mpcbench import report
    from mpcbench.launch import leftovers, runner
    from mpcbench.models import train

    def started(*_args, **_kwargs):
        raise Started

    for module, name in [(runner, "launch"), (train, "train"), (report, "build")]:
        monkeypatch.setattr(module, name, started)
    swept: list[Path] = []
    monkeypatch.setattr(leftovers, "sweep", lambda results: swept.append(results) or [])
    return swept


def _snapshot(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            if p.is_file() else "dir" for p in sorted(directory.rglob("*"))}


def _args(command: str, place: dict[str, Path], param_name: str | None = None,
          value: str = "") -> list[str]:
    """``command`` with its required parameters valid and the results copy, and
    ``value`` for parameter ``param_name``."""
    resolve = {k: str(v) for k, v in place.items()}
    params = {p.name: p for p in COMMANDS[command].params}
    args = [command]
    for name, given in [*((n, REQUIRED[n]) for n, p in params.items()
                          if p.required and n != param_name),
                        *([("results", "<results>")] if "results" in params
                          and param_name != "results" else []),
                        *([(param_name, value)] if param_name else [])]:
        param = params[name]
        given = resolve.get(given, given)
        args += [given] if param.param_type_name == "argument" else [param.opts[0], given]
    return args


def _one_line(res, status: int) -> str:
    """The one line of stderr of a command that ended with ``status``, no traceback
    (had work begun, :class:`Started` would have gone through the runner)."""
    assert isinstance(res.exception, SystemExit), res.exception  # not an uncaught error
    assert res.exit_code == status, res.output
    assert "Traceback" not in res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    return lines[0]


def test_every_option_declares_what_it_takes():
    """The bad values can only be as good as the declarations: every number has a range
    (a float a finite one), every path a :class:`PathCheck`."""
    for name, param in _params():
        annotation = param.type_descriptor.annotation
        where = f"{name} {param.opts[0]}"
        if annotation in (int, float):
            assert param.min is not None, f"{where}: no min="
            assert annotation is int or param.max is not None, f"{where}: no max="
        if isinstance(annotation, type) and issubclass(annotation, Path):
            assert isinstance(_path_check(param), PathCheck), f"{where}: no PathCheck"
    assert {"run", "sweep", "results", "report", "compare", "train", "train-secure",
            "share-model", "clean", "check"} <= set(COMMANDS)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_the_valid_arguments_reach_the_work(tmp_path, place, cleaned, command):
    """Without a bad value every command gets to its work: the refusals below are the bad
    values'."""
    results = tmp_path / "results"
    shutil.copytree(REAL, results)
    args = _args(command, {**place, "<results>": results})
    if command in ("results", "versus", "compare", "clean", "check"):  # no work to stop
        # (the copied store has no runs table yet: check finds that difference)
        assert CliRunner().invoke(app, args).exit_code == (command == "check")
        assert cleaned == ([results] if command == "clean" else [])
    else:
        with pytest.raises(Started):
            CliRunner().invoke(app, args)


@pytest.mark.parametrize(("command", "param_name", "value"), _cases())
def test_a_bad_value_is_refused_with_one_line_before_anything_begins(place, cleaned, command,
                                                                     param_name, value):
    before = _snapshot(place["<results>"])
    res = CliRunner().invoke(app, _args(command, place, param_name, value))
    _one_line(res, 2)
    assert cleaned == []
    assert _snapshot(place["<results>"]) == before


def test_ports_past_the_last_and_a_busy_port_are_refused(place):
    before = _snapshot(place["<results>"])
    res = CliRunner().invoke(app, [*_args("run", place), "-n", "2", "--port", "65535"])
    assert "--port 65535 needs 65535..65536, past the last port 65535" in _one_line(res, 2)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        res = CliRunner().invoke(app, [*_args("run", place), "-f", "plaintext", "--port",
                                       str(port)])
    assert f"port {port} on 127.0.0.1 is busy" in _one_line(res, 2)
    assert _snapshot(place["<results>"]) == before


def test_an_error_of_the_operating_system_is_one_line_and_exit_1(tmp_path, monkeypatch):
    from mpcbench import report

    index = tmp_path / "report" / "index.html"

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(index))

    monkeypatch.setattr(report, "build", full)
    res = CliRunner().invoke(app, ["report", "-r", str(REAL), "-o", str(index.parent)])
    assert _one_line(res, 1) == f"error: {index}: No space left on device"
