"""``mpcbench run``: one case, one process per party, rows appended to the results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..case import DEFAULT_IMAGES
from ..launch import names
from .app import app, err, out, warn
from .common import (
    DEFAULT_RESULTS,
    MAX_REPEATS,
    TEST_IMAGES,
    Dataset,
    FrameworkName,
    ModelName,
    NetworkName,
    Options,
    OutDir,
    PathCheck,
    Port,
    ResultsDir,
    Threads,
    Timeout,
    nonempty,
    parse_options,
    stop_on_signals,
)
from .results import Columns, Wide, check_table, print_runs

if TYPE_CHECKING:
    from ..launch.placement import Placer


#: a run's measured repeats and warm-up repeats unless told otherwise (a suite says its own)
REPEATS, WARMUP = 3, 1


def progress_bar(unit: str = "batches") -> Progress:
    """The progress bar shown while parties run (on stderr), counting ``unit``."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(),
        TextColumn(f"{{task.completed}}/{{task.total}} {unit}"), TimeElapsedColumn(),
        console=err, transient=True,
    )


def placement(hosts: str | None, remote: str | None, port: int | None,
              network: str = "none", cuts: list[str] | None = None) -> Placer:
    """Where the parties run, from ``--hosts``, ``--remote``, ``--port`` and ``--network``."""
    from ..errors import InputError
    from ..launch import placement as pl

    if network != "none":
        if hosts or remote or port:
            raise InputError("--network puts every party in its own emulated host on this "
                             "machine: drop --hosts, --remote and --port")
        return pl.emulated(network, tuple(pl.Cut.parse(c) for c in cuts or ()))
    if cuts:
        raise InputError("--cut needs an emulated --network")
    if hosts and Path(hosts).is_file():
        if remote:
            raise InputError("a hosts file says how to start each party: drop --remote")
        return pl.from_hosts(Path(hosts))
    if hosts and not remote:
        raise InputError(f"--hosts needs --remote, the command that starts a party there "
                         f"(or a hosts file; {hosts!r} is no file)")
    if remote:
        return pl.templated((hosts or "127.0.0.1").split(","), remote, port)
    return pl.local(port)


def model_reference(model: str | None, weights: Path | None) -> str | None:
    """What a case names its model by (:mod:`mpcbench.models.sources`): ``-m
    package.module:factory --weights FILE`` as ``package.module:factory@/abs/FILE``, an
    ONNX file by its absolute path, any other model by its name."""
    from ..errors import InputError

    if weights is not None:
        if model is None or ":" not in model or "@" in model:
            raise InputError("--weights goes with --model package.module:factory")
        return f"{model}@{Path(weights).resolve()}"
    if model is not None and model.lower().endswith(".onnx"):
        return str(Path(model).resolve())
    return model


def _print_commands(case, place, results: Path, threads: int | None) -> None:
    """Write the run spec and print each party's command line (the spec as a file)."""
    import re
    import shlex

    from ..launch.placement import worker_args
    from ..launch.runner import spec_text

    name = re.sub(r"[^\w.-]+", "_", f"{case.framework}-{case.model}").strip("_")
    spec = Path(results) / "logs" / "manual" / f"{name}-spec.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(spec_text(case, place, threads) + "\n")
    err.print(f"spec: {spec} (copy it to every host); one command per party:")
    for rank, (start, address) in enumerate(zip(place.starters, place.addresses, strict=True)):
        args = [a for a in worker_args(rank, str(spec)) if a != "--watch-stdin"]
        who = f"party {rank}" if rank < case.parties else f"dealer (rank {rank})"
        out.print(f"# {who} on {address}\n{shlex.join(start(args))}", highlight=False,
                  soft_wrap=True)


@app.command()
def run(
    framework: Annotated[str, typer.Option(
        "--framework", "-f", callback=FrameworkName,
        help=f"One of {', '.join(names.FRAMEWORKS)}.")] = "crypten",
    model: Annotated[str | None, typer.Option(
        "--model", "-m", callback=ModelName,
        help=f"One of {', '.join(names.MODELS)} (micro: the sharing micro-benchmark), "
             "or your own network: an ONNX file (PATH.onnx) or package.module:factory "
             "with --weights; default: a baseline's own model, else mlp.")] = None,
    weights: Annotated[Path | None, typer.Option(
        parser=str, callback=PathCheck(exists=True, kind="file"),
        help="The state dict (torch.save) of a --model package.module:factory, loaded into "
             "the module factory() returns.")] = None,
    dataset: Dataset = "mnist",
    parties: Annotated[int | None, typer.Option(
        "--parties", "-n", help="Number of parties (default: 2, or 1 for plaintext).",
        min=1)] = None,
    images: Annotated[int, typer.Option(help="Test images to classify.", min=1,
                                        max=TEST_IMAGES)] = DEFAULT_IMAGES,
    batch: Annotated[int | None, typer.Option(help="Batch size (default: per model; at "
                                              "most the images).", min=1,
                                              max=TEST_IMAGES)] = None,
    repeats: Annotated[int, typer.Option(help="Measured repeats (a time is their median).",
                                         min=1, max=MAX_REPEATS)] = REPEATS,
    warmup: Annotated[int, typer.Option(help="Warm-up repeats before them (stored, flagged, "
                                        "not counted).", min=0,
                                        max=MAX_REPEATS)] = WARMUP,
    results: ResultsDir = DEFAULT_RESULTS,
    timeout: Timeout = 600,
    port: Port = None,
    threads: Threads = None,
    dtype: Annotated[str, typer.Option(help="Input dtype before sharing: float32 or "
                                       "float64.")] = "float32",
    hosts: Annotated[str | None, typer.Option(
        callback=nonempty,
        help="A hosts file (YAML, one entry per party: address, ssh, python, workdir, "
             "ports; parties started over ssh), or comma-separated hosts for --remote "
             "(party r on host r mod len(hosts)).")] = None,
    remote: Annotated[str | None, typer.Option(
        callback=nonempty,
        help="Shell template starting a party on {host} (or $host); {worker} (or $worker) is "
             "the python arguments, e.g. 'ssh {host} \"cd mpcbench && .venv/bin/python "
             "{worker}\"'; other braces and $ reach the shell unchanged.")] = None,
    cut: Annotated[list[str] | None, typer.Option(
        help="Fault to inject on an emulated network: cut the link between two ranks after "
             "some seconds, e.g. 0-1@5 (repeatable).")] = None,
    network: Annotated[str, typer.Option(
        callback=NetworkName,
        help="Network the parties talk over: none (loopback), an emulated profile (lan, "
             "lan1g, wan, wan100; each party its own host, needs root) or a profile YAML "
             "file.")] = "none",
    cpus: Annotated[str | None, typer.Option(
        callback=nonempty,
        help="Pin parties to cores: party r on set r mod n of 'SET;SET;...', e.g. '0;1' or "
             "'0,1;2-3' (parties on this machine).")] = None,
    memory: Annotated[str | None, typer.Option(
        callback=nonempty,
        help="Memory cap per party (cgroup), e.g. 512MiB; a party over it fails the run "
             "naming the cap.")] = None,
    model_shares: Annotated[Path | None, typer.Option(
        parser=str, callback=PathCheck(exists=True, kind="dir"),
        help="Run from a secret-shared model (a directory written by --save-shares): each "
             "party loads its own share file; no party reads the trained weights.")] = None,
    save_shares: Annotated[Path | None, typer.Option(
        parser=str, callback=OutDir,
        help="After sharing the model, each party writes its shares to this directory "
             "(party-<rank>.npz) and the launcher a manifest.json.")] = None,
    print_commands: Annotated[bool, typer.Option(
        "--print-commands", help="Print the command of every party (to start them by hand) "
        "and the spec file they read, then exit without running.")] = False,
    model_owner: Annotated[int, typer.Option(
        help="Rank that owns the model weights (the others learn only its shapes).",
        min=0)] = 0,
    data_owners: Annotated[str, typer.Option(
        help="Ranks that own test images, e.g. 0,2-3: each batch is split among them and "
             "each shares only its slice.")] = "0",
    output: Annotated[str, typer.Option(
        "--output", help="Who learns the logits: 'owners' (each data owner those of its "
                         "own images) or one data owner's rank (all of them).")] = "owners",
    options: Options = None,
    wide: Wide = False,
    columns: Columns = None,
) -> None:
    """Run secure inference of MODEL with FRAMEWORK at N parties and store the measurements.

    One warm-up and three measured repeats unless told otherwise. Prints the time of
    each phase and the run as one line of the results table (--wide: every column;
    --columns: those named); warns first if the parties outnumber the cores.

    SIGTERM, SIGHUP or SIGINT stops every party and exits with 128 + the signal number.
    """
    from ..case import Inference
    from ..launch import defaults
    from ..launch.checks import check
    from ..launch.runner import run_case
    from ..results.runs import runs
    from ..results.summary import phases
    from ..roles import Roles

    check_table(wide, columns)
    case = defaults.case(
        framework, model_reference(model, weights), parties=parties, images=images, batch=batch,
        workload=None if model_shares is None else Inference(str(model_shares)),
        dataset=dataset, repeats=repeats, warmup=warmup, dtype=dtype,
        options=parse_options(options), network=network,
        roles=Roles.parse(model_owner, data_owners, output))
    from ..launch.resources import Resources, limited, parse_cpus, parse_size

    resources = Resources(parse_cpus(cpus) if cpus else (),
                          parse_size(memory) if memory else None)
    place = limited(placement(hosts, remote, port, network, cut), resources)
    if print_commands:
        with place(case.parties + check(case).dealers) as placed:
            _print_commands(case, placed, results, threads)
        return
    with stop_on_signals(), progress_bar() as bar:
        task = bar.add_task(case.case_id, total=None)
        result = run_case(case, results, timeout, port, threads,
                          on_progress=lambda d, t: bar.update(task, completed=d, total=t),
                          place=place, save_shares=save_shares, warn=warn)
    out.print(f"{case.case_id}  run {result.run_id}", highlight=False)
    table = Table()
    table.add_column("phase")
    table.add_column("s/img (slowest party)", justify="right")
    for _, row in phases(result.rows).iterrows():
        table.add_row(str(row["phase"]), f"{row['s_per_img']:.5f}")
    out.print(table)
    print_runs(runs(result.rows), wide=wide, columns=columns)
    if model_shares is not None:
        out.print(f"model from shares {model_shares} (manifest sha256 "
                  f"{result.rows['model_shares'].iloc[0]})", highlight=False)
    if save_shares is not None:
        out.print(f"shares saved to {save_shares}", highlight=False)
    for note in result.rows["note"].dropna().unique():
        err.print(f"[yellow]note:[/yellow] {note}", highlight=False, soft_wrap=True)
    err.print(f"rows appended to {result.path}")
