"""The terminal table of ``mpcbench results``: compact by default, one line per run within
the terminal's width; ``--wide`` and ``--columns`` for the rest; CSV and JSON unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mpcbench.cli import app
from mpcbench.cli import results as results_cli
from mpcbench.results import runs, store

REAL = Path(__file__).parents[1] / "data" / "results-real"
RUNS = 5  # runs stored in REAL
COMPACT_HEADERS = ["system", "model", "n", "net", "s/img", "\N{MULTIPLICATION SIGN} plain",
                   "agree", "RSS MiB", "MiB/img", "rounds/img"]


def _results(monkeypatch, columns: int, *args: str):
    """``mpcbench results -r REAL ARGS`` on a console as wide as a terminal of ``columns``
    (rich measures $COLUMNS as it measures a terminal)."""
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setattr(results_cli, "out", Console())
    return CliRunner().invoke(app, ["results", "-r", str(REAL), *args])


def _rows(stdout: str) -> list[str]:
    """The lines of the table's runs (below the rule under the headers)."""
    lines = stdout.splitlines()
    rule = next(i for i, line in enumerate(lines) if set(line.strip()) == {"─"})
    return [line for line in lines[rule + 1:] if line.strip()]


def test_the_default_table_fits_100_columns_one_line_per_run(monkeypatch):
    res = _results(monkeypatch, 100)
    assert res.exit_code == 0, res.output
    assert max(map(len, res.stdout.splitlines())) <= 100, res.stdout
    header = next(line for line in res.stdout.splitlines() if "system" in line)
    assert header.split() == " ".join(COMPACT_HEADERS).split()
    rows = _rows(res.stdout)
    assert len(rows) == RUNS + 1, res.stdout  # no cell wraps, nothing left out; one caption
    assert rows[1].split() == ["crypten", "mlp", "2", "none", "0.01413", "1.412", "1", "323.6",
                               "0.09225", "2.625"]
    # 3 parties on 2 cores: the time is marked time-sliced, and the mark said under the table
    assert rows[2].split()[:7] == ["crypten", "mlp", "3", "none", "0.0423", "*", "4.228"]
    assert rows[-1].strip() == results_cli.SLICED_CAPTION
    # not ok: its status instead of its time, and no time to mark
    assert rows[3].split()[:6] == ["crypten", "mlp", "4", "none", "timeout", "\N{EM DASH}"]


def test_no_run_time_sliced_no_mark(monkeypatch, tmp_path):
    for path in REAL.glob("*.parquet"):
        rows = store.read_file(path)
        store.append(rows.assign(oversubscribed=False), tmp_path)
    monkeypatch.setattr(results_cli, "out", Console(width=100))
    res = CliRunner().invoke(app, ["results", "-r", str(tmp_path)])
    assert res.exit_code == 0, res.output
    rows = _rows(res.stdout)
    assert len(rows) == RUNS and rows[2].split()[4:6] == ["0.0423", "4.228"], res.stdout
    assert results_cli.SLICED not in res.stdout


def test_a_narrow_terminal_leaves_out_the_last_columns_and_says_so(monkeypatch):
    res = _results(monkeypatch, 60)
    assert res.exit_code == 0, res.output
    assert max(map(len, res.stdout.splitlines())) <= 60, res.stdout
    rows = _rows(res.stdout)
    assert all(row.split()[2].isdigit() for row in rows[:RUNS])  # one line per run
    under = " ".join(" ".join(rows[RUNS:]).split())  # the captions, wrapped
    assert under == (f"{results_cli.SLICED_CAPTION} left out to fit 60 columns: RSS MiB, "
                     "MiB/img, rounds/img (see --columns)")


def test_wide_and_columns(monkeypatch):
    wide = _results(monkeypatch, 250, "--wide")
    assert wide.exit_code == 0, wide.output
    headers = next(line for line in wide.stdout.splitlines() if "system" in line).split()
    assert headers[:4] == ["system", "kind", "model", "data"] and headers[-1] == "versions"
    assert "offline" not in headers  # no run had a dealer
    chosen = _results(monkeypatch, 100, "--columns", "run_id, status,error")
    assert chosen.exit_code == 0, chosen.output
    assert _rows(chosen.stdout)[0].split() == ["20261125T202752-5e6c5f09", "ok", "—"]
    assert "timed out after 1 s" in chosen.stdout


def test_csv_and_json_keep_every_column(monkeypatch):
    expected = runs.runs(store.load(REAL))
    csv = _results(monkeypatch, 100, "--format", "csv")
    assert csv.exit_code == 0 and csv.stdout == expected.to_csv(index=False)
    json = _results(monkeypatch, 100, "--format", "json")
    assert json.exit_code == 0
    assert json.stdout == expected.to_json(orient="records", indent=2, date_format="iso") + "\n"


@pytest.mark.parametrize(("args", "message"), [
    (["--columns", "system,speed"], "no column 'speed'; the columns are run_id, timestamp"),
    (["--columns", "1;;x"], "no column '1;;x'"),
    (["--columns", ""], "no column ''"),
    (["--wide", "--columns", "system"], "--wide shows every column, --columns the ones named"),
    (["--format", "csv", "--wide"], "--format csv has every column"),
])
def test_bad_table_options_give_one_line_and_exit_2(monkeypatch, args, message):
    res = _results(monkeypatch, 100, *args)
    assert res.exit_code == 2, res.output
    assert res.stdout == ""
    (line,) = res.stderr.splitlines()
    assert line.startswith("error: ") and message in line
