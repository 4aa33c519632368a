"""The minidl command line: parse options, call the experiment layer, print.

Exit codes: 0 success, 1 a run diverged (or a check failed), 2 invalid input
(config, option or file), 130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import torch
import typer

from minidl.runner.config import Config, ConfigError, load_config
from minidl.runner.report import (
    lockstep_table,
    print_run,
    print_uncut,
    print_warnings,
    progress_bar,
    repeat_table,
    runs_table,
    statistics_table,
    stderr,
    stdout,
    train_table,
    verdict_line,
)
from minidl.runner.store import to_json_safe

EXIT_DIVERGED = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130

app = typer.Typer(
    help="Train small networks with hand-written backward passes, from YAML configs.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

ConfigArgument = Annotated[
    Path, typer.Argument(metavar="CONFIG", help="Experiment config (YAML).")
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a config key: key.path=value (value parsed as YAML). Repeatable.",
    ),
]
SeedOption = Annotated[
    int | None,
    typer.Option("--seed", help="Seed of the run; overrides the config's seed."),
]
RunsDirOption = Annotated[
    Path, typer.Option("--runs-dir", help="Folder that receives the run folders.")
]
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json", help="Print only the result, as one JSON object, on stdout."
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", help="No progress bar and no table.")
]
ThreadsOption = Annotated[
    int | None,
    typer.Option(
        "--threads",
        min=1,
        help="torch intra-op threads (default: torch's choice). 1 is often faster for small models.",
    ),
]
PlotsOption = Annotated[
    bool,
    typer.Option(
        "--plots/--no-plots", help="Write the run's figures (PNG) into its folder."
    ),
]
BrowseDirOption = Annotated[
    Path,
    typer.Option("--runs-dir", help="Folder for the run folders, created if missing."),
]


class InvalidInput(Exception):
    """Bad input found by the CLI itself; reported in one line with exit code 2."""


def load(config_path: Path, sets: list[str] | None, seed: int | None) -> Config:
    return load_config(config_path, sets or [], seed)


def check_runs_dir(runs_dir: Path) -> None:
    """Fail early, before any work, when run folders cannot be created under runs_dir."""
    if runs_dir.exists() and not runs_dir.is_dir():
        raise InvalidInput(f"--runs-dir {runs_dir}: exists and is not a folder")
    existing = runs_dir
    while not existing.exists():
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidInput(f"--runs-dir {runs_dir}: folder is not writable")


def set_threads(threads: int | None) -> None:
    if threads is not None:
        torch.set_num_threads(threads)


def print_json(data: dict[str, Any] | list[Any]) -> None:
    sys.stdout.write(json.dumps(to_json_safe(data)) + "\n")
    sys.stdout.flush()


@app.callback()
def _commands() -> None:
    """Train small networks with hand-written backward passes, from YAML configs."""


@app.command()
def train(
    config_path: ConfigArgument,
    sets: SetOption = None,
    seed: SeedOption = None,
    runs_dir: RunsDirOption = Path("runs"),
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    plots: PlotsOption = True,
    threads: ThreadsOption = None,
) -> None:
    """Train one model from CONFIG and record it in a new run folder."""
    from minidl.runner.experiment import run_train

    config = load(config_path, sets, seed)
    check_runs_dir(runs_dir)
    set_threads(threads)

    with progress_bar(enabled=not quiet) as progress:
        task = None
        if progress is not None:
            task = progress.add_task("train", total=config.training.epochs, status="")

        def show(stats) -> None:
            if progress is not None:
                status = (
                    f"loss {stats.loss[0]:.5f}  train {100 * stats.train_error[0]:.2f}%"
                    f"  test {100 * stats.test_error[0]:.2f}%"
                )
                progress.update(task, completed=stats.epoch, status=status)

        run = run_train(config, config_path, runs_dir, on_epoch=show, plots=plots)

    print_warnings(run.warnings)
    metrics = {**run.metrics, "run_dir": str(run.run_dir)}
    if as_json:
        print_json(metrics)
    elif not quiet:
        stdout.print(train_table(metrics))
        stdout.print(f"run folder: {run.run_dir}")
        print_figures(run.figures)

    if metrics["status"] == "diverged":
        stderr.print(
            f"[red]diverged:[/red] the loss became NaN or infinite at epoch "
            f"{metrics['diverged_epoch']}; try a smaller learning rate "
            f"(optimizer.lr is {config.optimizer.lr}), e.g. --set optimizer.lr={config.optimizer.lr / 10:g}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_DIVERGED)


@app.command()
def repeat(
    config_path: ConfigArgument,
    n: Annotated[
        int, typer.Option("--n", min=1, help="Number of runs, seeds s .. s+N-1.")
    ] = 100,
    chunk: Annotated[
        int | None,
        typer.Option(
            "--chunk",
            min=1,
            help="Replicas trained at once (default: all, up to 1000).",
        ),
    ] = None,
    sets: SetOption = None,
    seed: SeedOption = None,
    runs_dir: RunsDirOption = Path("runs"),
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    plots: PlotsOption = True,
    threads: ThreadsOption = None,
) -> None:
    """Train CONFIG with N seeds as one batched computation; report mean and std of the errors."""
    from minidl.runner.repeat import DEFAULT_MAX_CHUNK, chunk_seeds, run_repeat

    config = load(config_path, sets, seed)
    check_runs_dir(runs_dir)
    set_threads(threads)

    with progress_bar(enabled=not quiet) as progress:
        chunks_task = epochs_task = None
        if progress is not None:
            total_chunks = len(chunk_seeds(0, n, chunk or min(n, DEFAULT_MAX_CHUNK)))
            chunks_task = progress.add_task("chunks", total=total_chunks, status="")
            epochs_task = progress.add_task(
                "epochs", total=config.training.epochs, status=""
            )

        def show_chunk(index: int, seeds: list[int]) -> None:
            if progress is not None:
                progress.update(
                    chunks_task,
                    completed=index,
                    status=f"seeds {seeds[0]}..{seeds[-1]}",
                )
                progress.reset(epochs_task, total=config.training.epochs, status="")

        def show_epoch(stats) -> None:
            if progress is not None:
                finite = [loss for loss in stats.loss if math.isfinite(loss)]
                mean_loss = sum(finite) / len(finite) if finite else float("nan")
                progress.update(
                    epochs_task,
                    completed=stats.epoch,
                    status=f"mean loss {mean_loss:.5f}",
                )

        run = run_repeat(
            config, config_path, runs_dir, n, chunk, show_chunk, show_epoch, plots
        )
        if progress is not None:
            progress.update(chunks_task, completed=progress.tasks[chunks_task].total)

    print_warnings(run.warnings)
    summary = {**run.summary, "run_dir": str(run.run_dir)}
    if as_json:
        print_json(summary)
    elif not quiet:
        stdout.print(repeat_table(summary))
        stdout.print(f"run folder: {run.run_dir}")
        print_figures(run.figures)

    diverged = [
        replica.seed for replica in run.replicas if replica.status != "completed"
    ]
    if diverged:
        first_seeds = ", ".join(str(seed) for seed in diverged[:10])
        more = f" and {len(diverged) - 10} more" if len(diverged) > 10 else ""
        stderr.print(
            f"diverged: {len(diverged)} of {len(run.replicas)} runs (seeds {first_seeds}{more}); "
            f"their loss became NaN or infinite and they are left out of the statistics",
            highlight=False,
            soft_wrap=True,
        )
    if diverged and len(diverged) == len(run.replicas):
        raise typer.Exit(EXIT_DIVERGED)


def print_figures(figures: list[Path]) -> None:
    if figures:
        stdout.print(f"figures: {', '.join(path.name for path in figures)}")


@app.command()
def runs(
    runs_dir: BrowseDirOption = Path("runs"),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the runs as one JSON list on stdout.")
    ] = False,
) -> None:
    """List the run folders, newest first, with their status and errors."""
    from minidl.runner.browse import list_runs

    if runs_dir.exists() and not runs_dir.is_dir():
        raise InvalidInput(f"--runs-dir {runs_dir}: exists and is not a folder")
    try:
        entries = list_runs(runs_dir)
    except OSError as error:
        raise InvalidInput(f"--runs-dir {runs_dir}: cannot be read: {error}") from error

    if as_json:
        print_json([entry.to_json() for entry in entries])
    elif entries:
        print_uncut(runs_table(entries, runs_dir))
    else:
        stdout.print(f"no runs in {runs_dir}", highlight=False, markup=False)


@app.command()
def show(
    run: Annotated[
        str,
        typer.Argument(
            metavar="RUN", help="Run folder: its name under --runs-dir, or a path."
        ),
    ],
    runs_dir: BrowseDirOption = Path("runs"),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the run as one JSON object on stdout.")
    ] = False,
) -> None:
    """Print one run's config, result file and figure paths."""
    from minidl.runner.browse import RunNotFound, find_run, read_run

    try:
        folder = find_run(runs_dir, run)
    except RunNotFound as error:
        raise InvalidInput(str(error)) from error

    details = read_run(folder)
    if as_json:
        print_json(details.to_json())
    else:
        print_run(details)


@app.command()
def compare(
    config_path: Annotated[
        Path, typer.Argument(metavar="CONFIG", help="Experiment config (YAML).")
    ] = Path("configs/disk.yaml"),
    pytorch: Annotated[
        bool,
        typer.Option(
            "--pytorch", help="Compare with torch.nn + autograd + torch.optim."
        ),
    ] = False,
    n: Annotated[
        int,
        typer.Option(
            "--n",
            min=0,
            help="Seeded runs per framework for the statistics; 0 skips them.",
        ),
    ] = 100,
    steps: Annotated[
        int | None,
        typer.Option(
            "--steps", min=1, help="Limit the lockstep check to this many steps."
        ),
    ] = None,
    sets: SetOption = None,
    seed: SeedOption = None,
    runs_dir: RunsDirOption = Path("runs"),
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    plots: PlotsOption = True,
    threads: ThreadsOption = None,
) -> None:
    """Check that minidl computes what PyTorch computes: same path, then same statistics."""
    from minidl.runner.compare import Progress, run_compare

    if not pytorch:
        raise InvalidInput("compare: name the framework to compare with: --pytorch")
    if n == 1:
        raise InvalidInput("--n 1: expected 0 (skip the statistics) or at least 2 runs")
    config = load(config_path, sets, seed)
    check_runs_dir(runs_dir)
    set_threads(threads)

    with progress_bar(enabled=not quiet) as bar:
        tasks: dict[str, Any] = {}

        def advance(name: str, done: int, total: int) -> None:
            if bar is None:
                return
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total, status="")
            bar.update(tasks[name], completed=done)

        progress = Progress(
            lockstep=lambda dtype, done, total: advance(
                f"lockstep {dtype}", done, total
            ),
            minidl=lambda done, total: advance("minidl runs", done, total),
            reference=lambda done, total: advance("PyTorch runs", done, total),
        )
        run = run_compare(config, config_path, runs_dir, n, steps, progress, plots)

    print_warnings(run.warnings)
    report = {**run.report, "run_dir": str(run.run_dir)}
    if as_json:
        print_json(report)
    elif not quiet:
        stdout.print(lockstep_table(report["lockstep"]))
        if report["statistics"] is not None:
            stdout.print(statistics_table(report["statistics"]))
        stdout.print(f"run folder: {run.run_dir}")
        print_figures(run.figures)
    console = stderr if as_json else stdout
    console.print(verdict_line(report), highlight=False, markup=False, soft_wrap=True)
    if not run.agrees:
        raise typer.Exit(EXIT_DIVERGED)


def main() -> None:
    """Entry point: run the app and turn every input error into one line and exit code 2."""
    try:
        code = app(standalone_mode=False)
    except (ConfigError, InvalidInput) as error:
        _fail(str(error), EXIT_INVALID)
    except typer.TyperException as error:  # usage errors: bad option, missing argument
        message = error.format_message()
        if not message:  # no command given: the help text is already printed
            sys.exit(EXIT_INVALID)
        _fail(message, EXIT_INVALID)
    except (typer.Abort, KeyboardInterrupt):
        code = EXIT_INTERRUPTED
    if code == EXIT_INTERRUPTED:
        _fail(
            "interrupted by Ctrl-C; a run stopped before its end is marked 'interrupted' in its folder",
            code,
        )
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    stderr.print(
        f"minidl: error: {message}", highlight=False, markup=False, soft_wrap=True
    )
    sys.exit(code)


if __name__ == "__main__":
    main()
