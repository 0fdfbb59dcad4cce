"""``mpcbench train-secure``: SGD steps under MPC on secret-shared data, next to
plaintext SGD of the same steps, rows appended to the results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..case import DEFAULT_IMAGES, DEFAULT_MODEL, DEFAULT_PARTIES
from .app import app, err, out
from .common import (
    DEFAULT_RESULTS,
    MAX_SEED,
    TEST_IMAGES,
    TRAIN_IMAGES,
    Dataset,
    FrameworkName,
    ModelName,
    OutDir,
    PartyCount,
    Port,
    ResultsDir,
    Threads,
    Timeout,
    positive,
    stop_on_signals,
)
from .run import progress_bar

#: the most SGD steps of a run (its batch plan is held in memory)
MAX_STEPS = 1_000_000
#: the largest learning rate taken (SGD diverges far below it)
MAX_LR = 10.0


@app.command("train-secure")
def train_secure(
    framework: Annotated[str, typer.Option("--framework", "-f", callback=FrameworkName,
                                           help="MPC framework: crypten.")] = "crypten",
    model: Annotated[str, typer.Option("--model", "-m", callback=ModelName,
                                       help="mlp or cnn.")] = DEFAULT_MODEL,
    dataset: Dataset = "mnist",
    parties: PartyCount = DEFAULT_PARTIES,
    steps: Annotated[int, typer.Option(help="SGD steps (bounded run; the time per epoch is "
                                       "extrapolated unless they cover one).", min=1,
                                       max=MAX_STEPS)] = 10,
    batch: Annotated[int | None, typer.Option(
        help="Training batch size, also of the test images (default: 128, as plaintext "
             "training).", min=1, max=TRAIN_IMAGES)] = None,
    lr: Annotated[float | None, typer.Option(help="SGD learning rate, more than 0 (default "
                                             "0.05).", min=0, max=MAX_LR,
                                             callback=positive)] = None,
    seed: Annotated[int, typer.Option(help="Seed of the initial weights and the batch order "
                                      "(the same as plaintext training's).", min=0,
                                      max=MAX_SEED)] = 0,
    variant: Annotated[str, typer.Option(help="stock (the framework's own code) or tuned "
                                         "(the project's speed-ups).")] = "stock",
    train_images: Annotated[int | None, typer.Option(
        help="Train on the first N training images (one epoch; default: all 60,000).",
        min=1, max=TRAIN_IMAGES)] = None,
    test_images: Annotated[int, typer.Option(
        help="Test images the trained model is scored on (logits to the model owner only).",
        min=1, max=TEST_IMAGES)] = DEFAULT_IMAGES,
    save_shares: Annotated[Path | None, typer.Option(
        parser=str, callback=OutDir,
        help="After the steps, each party writes its shares of the trained model to this "
             "directory (party-<rank>.npz) and the launcher a manifest.json; "
             "mpcbench run --model-shares runs inference from them.")] = None,
    results: ResultsDir = DEFAULT_RESULTS,
    timeout: Timeout = 1800,
    port: Port = None,
    threads: Threads = None,
) -> None:
    """Train MODEL for STEPS SGD steps under FRAMEWORK at N parties on secret-shared data.

    Party 0 owns data and model: it shares each batch, its one-hot labels, the seed's weights.

    The parties train with the framework's encrypted autograd (cross-entropy loss, SGD).

    Each step's loss and the trained model's test logits are opened to the model owner only.

    Plaintext SGD of the same steps from the same weights is timed in the same run.

    SIGTERM, SIGHUP or SIGINT stops every party and exits with 128 + the signal number.
    """
    from ..case import DEFAULT_LR, EPOCH_IMAGES, Training
    from ..launch import defaults
    from ..launch.runner import run_case
    from ..results.summary import usable

    spec = Training(steps, lr or DEFAULT_LR, seed, train_images or EPOCH_IMAGES)
    case = defaults.case(framework, model, parties=parties, images=test_images, batch=batch,
                         workload=spec, dataset=dataset, options={"variant": variant})
    with stop_on_signals(), progress_bar("steps + test batches") as bar:
        task = bar.add_task(case.case_id, total=None)
        result = run_case(case, results, timeout, port, threads,
                          on_progress=lambda d, t: bar.update(task, completed=d, total=t),
                          save_shares=save_shares)
    rows = usable(result.rows)
    run = rows[rows["rank"] < 0]
    value = run[run["phase"] == "total"].set_index("metric")["value"]
    source = run[run["phase"] == "total"].set_index("metric")["source"]
    losses = run[run["metric"] == "loss"].sort_values("repeat")["value"]
    out.print(f"{case.case_id}  run {result.run_id}", highlight=False)
    out.print(
        f"{value['s_per_step']:.3f} s/step, {value['s_per_epoch']:.0f} s/epoch of "
        f"{spec.train_images} images "
        f"({source['s_per_epoch']}); plaintext {value['plain_s_per_step']:.5f} s/step, "
        f"{value['plain_s_per_epoch']:.1f} s/epoch ({source['plain_s_per_epoch']}); "
        f"slowdown {value['slowdown']:.0f}x", highlight=False)
    out.print(
        f"loss {losses.iloc[0]:.4f} -> {losses.iloc[-1]:.4f}; test accuracy "
        f"{value['accuracy']:.4f} (plaintext SGD {value['plain_accuracy']:.4f}, agreement "
        f"{value['agreement']:.4f}) on {test_images} images", highlight=False)
    if save_shares is not None:
        out.print(f"shares of the trained model saved to {save_shares}", highlight=False)
    err.print(f"rows appended to {result.path}")
