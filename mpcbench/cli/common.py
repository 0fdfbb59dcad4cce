"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from ..errors import InputError

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


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (values parsed as YAML scalars)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--set takes KEY=VALUE, got {pair!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out
