"""Fixtures for integration tests: one real run of a case for every test that asserts on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from mpcbench.case import Case
from mpcbench.launch.runner import run_case
from tests.conftest import capture_logits

#: runs on which tests of several files assert (each file's own checks of one measurement)
CRYPTEN_MLP_2 = Case("crypten", "mlp", parties=2, images=16, batch=16)
MPYC_MLP_3 = Case("mpyc", "mlp", parties=3, images=32, batch=32)


@dataclass(frozen=True)
class SharedRun:
    """A stored run: its rows, and the logits its output parties revealed."""

    rows: pd.DataFrame
    logits: np.ndarray | None


@pytest.fixture(scope="session")
def shared_run(tmp_path_factory):
    """``shared_run(case, timeout_s)``: the :class:`SharedRun` of ``case``, run through the
    launcher (one process per party) the first time a test asks for it, and given to
    every test that asks for the same case after it; each test asserts its own things
    on the same measurement. A run that fails fails every test that asks for it."""
    made: dict[str, SharedRun | Exception] = {}

    def get(case: Case, timeout_s: float = 240) -> SharedRun:
        key = repr(case)
        if key not in made:
            try:
                with pytest.MonkeyPatch.context() as mp:
                    seen = capture_logits(mp)
                    result = run_case(case, tmp_path_factory.mktemp("shared"),
                                      timeout_s=timeout_s)
                made[key] = SharedRun(result.rows, seen[0] if seen else None)
            except Exception as exc:
                made[key] = exc
        if isinstance(made[key], Exception):
            raise made[key]
        return made[key]

    return get
