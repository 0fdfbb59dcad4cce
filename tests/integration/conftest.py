"""Fixtures for integration tests: one real run of a case for every test that asserts on it."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pytest

from mpcbench.case import Case
from mpcbench.launch.runner import run_case
from tests.conftest import capture_logits

#: runs on which tests of several files assert (each file's own checks of one measurement)
CRYPTEN_MLP_2 = Case("crypten", "mlp", parties=2, images=16, batch=16)
MPYC_MLP_3 = Case("mpyc", "mlp", parties=3, images=32, batch=32)

T = TypeVar("T")


@dataclass(frozen=True)
class SharedRun:
    """A stored run: its rows, and the logits its output parties revealed."""

    rows: pd.DataFrame
    logits: np.ndarray | None


def once(make: Callable[..., T], key: Callable[..., Hashable] = lambda *args: args,
         ) -> Callable[..., T]:
    """``make``, run the first time its arguments are asked for (told apart by ``key``) and
    its result given to every later ask; a run that raised raises the same exception for
    every ask, without running again (a skip is no Exception: not kept)."""
    made: dict[Hashable, Any] = {}

    def get(*args: Any) -> T:
        k = key(*args)
        if k not in made:
            try:
                made[k] = make(*args)
            except Exception as exc:
                made[k] = exc
        if isinstance(made[k], Exception):
            raise made[k]
        return made[k]

    return get


@pytest.fixture(scope="session")
def shared_run(tmp_path_factory) -> Callable[[Case], SharedRun]:
    """``shared_run(case)``: the :class:`SharedRun` of ``case``, run through the launcher
    (one process per party) the first time a test asks for it, and given to every test
    that asks for the same case after it; each test asserts its own things on the same
    measurement. A run that fails fails every test that asks for it."""

    def run(case: Case) -> SharedRun:
        with pytest.MonkeyPatch.context() as mp:
            seen = capture_logits(mp)
            result = run_case(case, tmp_path_factory.mktemp("shared"), timeout_s=240)
        return SharedRun(result.rows, seen[0] if seen else None)

    return once(run, key=repr)
