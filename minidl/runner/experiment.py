"""One training run from a config, recorded in its own run folder."""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import minidl
from minidl.runner.config import Config, config_to_yaml
from minidl.runner.figures import FigureLog, draw_train_figures
from minidl.runner.store import (
    FAILED,
    INTERRUPTED,
    RUNNING,
    create_run_dir,
    write_csv,
    write_json,
    write_text,
)
from minidl.runner.training import EpochStats, TrainingResult, train

HISTORY_HEADER = ["epoch", "loss", "train_error", "test_error", "seconds"]


@dataclass
class TrainRun:
    """A finished single run: its folder, its metrics, the trained objects and figures.

    warnings contains one line for each figure that was skipped or failed to render.
    """

    run_dir: Path
    metrics: dict[str, Any]
    result: TrainingResult
    figures: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def environment(config: Config) -> dict[str, Any]:
    """Collect the facts a result depends on beyond its config: dtype, device, versions."""
    return {
        "dtype": config.dtype,
        "device": config.device,
        "torch_version": torch.__version__,
        "minidl_version": minidl.__version__,
        "python_version": platform.python_version(),
        "threads": torch.get_num_threads(),
    }


def run_header(command: str, config: Config, config_path: str | Path) -> dict[str, Any]:
    """Build the first fields of a run's result file, with status "running"."""
    return {
        "command": command,
        "config": str(config_path),
        "seed": config.seed,
        "status": RUNNING,
        **environment(config),
    }


def start_run(
    runs_dir: str | Path, command: str, config: Config, config_path: str | Path
) -> Path:
    """Create the run folder with the resolved config and a "running" status."""
    run_dir = create_run_dir(runs_dir, command, config_path)
    write_text(run_dir / "config.yaml", config_to_yaml(config))
    return run_dir


def run_train(
    config: Config,
    config_path: str | Path,
    runs_dir: str | Path,
    on_epoch: Callable[[EpochStats], None] | None = None,
    on_start: Callable[[Path], None] | None = None,
    plots: bool = True,
) -> TrainRun:
    """Train the config's model once with config.seed and record the run.

    With plots, predictions.png and curves.png are drawn after the metrics are
    written; a figure that fails becomes a warning. The recorded seconds cover
    the training only, never the figures.

    On Ctrl-C (KeyboardInterrupt) or an error, the folder keeps the history so
    far with status "interrupted" or "failed", and the exception propagates.
    """
    run_dir = start_run(runs_dir, "train", config, config_path)
    metrics = run_header("train", config, config_path)
    write_json(run_dir / "metrics.json", metrics)
    if on_start is not None:
        on_start(run_dir)

    history: list[EpochStats] = []

    def record(stats: EpochStats) -> None:
        history.append(stats)
        if on_epoch is not None:
            on_epoch(stats)

    try:
        result = train(config, [config.seed], record)
    except BaseException as error:
        status = INTERRUPTED if isinstance(error, KeyboardInterrupt) else FAILED
        _write_history(run_dir, history)
        write_json(
            run_dir / "metrics.json",
            {**metrics, **_partial_metrics(history), "status": status},
        )
        raise

    replica = result.replicas[0]
    metrics.update(
        train_error=replica.train_error,
        test_error=replica.test_error,
        final_loss=replica.final_loss,
        seconds=result.seconds,
        seconds_per_epoch=result.seconds / max(len(history), 1),
        epochs_completed=replica.epochs_completed,
        diverged_epoch=replica.diverged_epoch,
        status=replica.status,
    )
    _write_history(run_dir, history)
    write_json(run_dir / "metrics.json", metrics)

    figures = FigureLog()
    if plots:
        title = f"train {Path(config_path).name}, seed {config.seed}"
        figures = draw_train_figures(run_dir, result, config.data.generator, title)
    return TrainRun(
        run_dir=run_dir,
        metrics=metrics,
        result=result,
        figures=figures.written,
        warnings=figures.warnings,
    )


def _partial_metrics(history: list[EpochStats]) -> dict[str, Any]:
    if not history:
        return {"epochs_completed": 0}
    last = history[-1]
    return {
        "train_error": last.train_error[0],
        "test_error": last.test_error[0],
        "final_loss": last.loss[0],
        "seconds": last.seconds,
        "epochs_completed": last.epoch,
    }


def _write_history(run_dir: Path, history: list[EpochStats]) -> None:
    rows = [
        [
            stats.epoch,
            stats.loss[0],
            stats.train_error[0],
            stats.test_error[0],
            round(stats.seconds, 6),
        ]
        for stats in history
    ]
    write_csv(run_dir / "history.csv", HISTORY_HEADER, rows)
