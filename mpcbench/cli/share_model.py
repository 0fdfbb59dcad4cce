"""``mpcbench share-model``: secret-share a trained model among N parties and save each
party's shares to files (:mod:`mpcbench.parties.shares`), for ``run --model-shares``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..case import DEFAULT_MODEL, DEFAULT_PARTIES
from .app import app, err, out
from .common import (
    DEFAULT_RESULTS,
    Dataset,
    FrameworkName,
    ModelName,
    Options,
    OutDir,
    PartyCount,
    ResultsDir,
    Timeout,
    parse_options,
    stop_on_signals,
)
from .run import progress_bar


@app.command("share-model")
def share_model(
    framework: Annotated[str, typer.Option("--framework", "-f", callback=FrameworkName,
                                           help="crypten or mpyc.")] = "crypten",
    model: Annotated[str, typer.Option("--model", "-m", callback=ModelName,
                                       help="mlp, bnn, cnn.")] = DEFAULT_MODEL,
    dataset: Dataset = "mnist",
    parties: PartyCount = DEFAULT_PARTIES,
    out_dir: Annotated[Path, typer.Option("--out", parser=str, callback=OutDir,
                                          help="Directory of the share set (must "
                                          "not hold one yet).")] = Path("shares"),
    results: ResultsDir = DEFAULT_RESULTS,
    timeout: Timeout = 600,
    options: Options = None,
) -> None:
    """Share MODEL's trained weights from the model owner among N parties; each party
    writes its own shares to OUT/party-<rank>.npz, the launcher OUT/manifest.json.

    It is a one-image ``mpcbench run`` with ``--save-shares OUT``, stored like any run.
    Runs from the set must use the encoding it was made with (MPyC: the same threshold,
    bit lengths and variant via --set).
    """
    from ..launch import defaults
    from ..launch.runner import run_case

    case = defaults.case(framework, model, parties=parties, images=1, batch=1,
                         dataset=dataset, options=parse_options(options))
    with stop_on_signals(), progress_bar() as bar:
        task = bar.add_task(f"sharing {case.case_id}", total=None)
        result = run_case(case, results, timeout, save_shares=out_dir,
                          on_progress=lambda d, t: bar.update(task, completed=d, total=t))
    out.print(f"{parties} share files and manifest.json in {out_dir} (run {result.run_id}); "
              f"run from them: mpcbench run -f {framework} -m {model} -d {dataset} "
              f"-n {parties} --model-shares {out_dir}", highlight=False, soft_wrap=True)
    err.print(f"rows appended to {result.path}")
