"""``mpcbench train``: train a shared model in plaintext and save its weights."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from .app import app, err
from .common import MAX_SEED, MAX_THREADS, TRAIN_IMAGES, Dataset, ModelName

#: the most epochs of a training run
MAX_EPOCHS = 1000


@app.command()
def train(
    model: Annotated[str, typer.Option("--model", "-m", callback=ModelName,
                                       help="Model to train (mlp, bnn, cnn, ...).")],
    dataset: Dataset = "mnist",
    epochs: Annotated[int | None, typer.Option(help="Epochs (default: per model).", min=1,
                                               max=MAX_EPOCHS)] = None,
    batch: Annotated[int, typer.Option(help="Training batch size.", min=1,
                                       max=TRAIN_IMAGES)] = 128,
    seed: Annotated[int, typer.Option(help="Random seed.", min=0, max=MAX_SEED)] = 0,
    limit: Annotated[int | None, typer.Option(help="Train on the first N images only.",
                                              min=1, max=TRAIN_IMAGES)] = None,
    threads: Annotated[int, typer.Option(help="Torch threads (0: torch's default).", min=0,
                                         max=MAX_THREADS)] = 0,
) -> None:
    """Train MODEL on DATASET; weights and their checksum go to data/weights/."""
    import torch

    from ..launch.catalog import model_module
    from ..models.train import train as train_model

    definition = model_module(model)  # fails fast on an unknown model name
    if threads:
        torch.set_num_threads(threads)
    with Progress(
        TextColumn(f"training {model} on {dataset}"), BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"), TimeRemainingColumn(),
        console=err, transient=True,
    ) as bar:
        task = bar.add_task("train", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = train_model(model, dataset, epochs=epochs, batch=batch, seed=seed,
                             limit=limit, progress=progress, model_module=definition)
    scored = ("no test accuracy (not a classifier)" if result.test_accuracy is None
              else f"test accuracy {result.test_accuracy:.4f}")
    err.print(
        f"{model} on {dataset}: {scored} after "
        f"{result.epochs} epochs ({result.seconds:.0f} s); weights {result.weights.path} "
        f"sha256 {result.weights.sha256[:12]}"
    )
