"""Tidy results: schema, append-only store, provenance and summaries."""

from .schema import COLUMNS, RANK_METRICS, RUN_METRICS, SCHEMA_VERSION, SchemaError
from .store import ResultsError, append, load, run_files

__all__ = [
    "COLUMNS",
    "RANK_METRICS",
    "RUN_METRICS",
    "SCHEMA_VERSION",
    "ResultsError",
    "SchemaError",
    "append",
    "load",
    "run_files",
]
