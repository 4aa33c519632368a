"""Many seeds of one config, trained in chunks of replicas, summarised by mean and std.

Replica r of a repeat starting at seed s is the run `minidl train --seed s+r`:
same data, initial weights and shuffles, and so the same result up to float
rounding. Runs whose loss turns NaN or infinite are reported as diverged and
left out of the statistics.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minidl.runner.config import Config
from minidl.runner.experiment import environment, start_run
from minidl.runner.figures import FigureLog, draw_repeat_figures
from minidl.runner.store import FAILED, INTERRUPTED, RUNNING, write_csv, write_json
from minidl.runner.training import (
    COMPLETED,
    EpochStats,
    ReplicaResult,
    TrainingResult,
    train,
)

# Replicas trained at once unless --chunk sets another count. The disk model needs
# about 1 MB a replica, mostly activations of the 2000-point evaluation: a chunk
# of 1000 peaked at 1.3 GB resident on a 2-core AMD EPYC, against 0.24 GB for one
# replica. There, time per replica was about flat from 25 replicas a chunk up.
DEFAULT_MAX_CHUNK = 1000

REPEATS_HEADER = ["seed", "train_error", "test_error", "final_loss", "status"]


@dataclass
class ErrorSummary:
    """Statistics of one error rate over the completed runs; std is the sample std (N-1)."""

    mean: float
    std: float
    min: float
    max: float

    @classmethod
    def of(cls, values: list[float]) -> ErrorSummary:
        if not values:
            return cls(math.nan, math.nan, math.nan, math.nan)
        std = statistics.stdev(values) if len(values) > 1 else math.nan
        return cls(statistics.fmean(values), std, min(values), max(values))


@dataclass
class RepeatRun:
    """A repeat's folder, summary, replica outcomes, trained chunks and figures.

    warnings contains one line for each figure that was skipped or failed to render.
    """

    run_dir: Path
    summary: dict[str, Any]
    replicas: list[ReplicaResult]
    chunks: list[TrainingResult] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def chunk_seeds(first_seed: int, n: int, chunk: int) -> list[list[int]]:
    """Seeds first_seed .. first_seed + n - 1, cut into consecutive chunks of at most `chunk`."""
    seeds = list(range(first_seed, first_seed + n))
    return [seeds[start : start + chunk] for start in range(0, n, chunk)]


def summarise(replicas: list[ReplicaResult]) -> dict[str, Any]:
    """Counts and error statistics, diverged runs excluded."""
    completed = [replica for replica in replicas if replica.status == COMPLETED]
    return {
        "n": len(replicas),
        "completed": len(completed),
        "diverged": len(replicas) - len(completed),
        "train_error": vars(ErrorSummary.of([r.train_error for r in completed])),
        "test_error": vars(ErrorSummary.of([r.test_error for r in completed])),
        "std_ddof": 1,
    }


def run_repeat(
    config: Config,
    config_path: str | Path,
    runs_dir: str | Path,
    n: int,
    chunk: int | None = None,
    on_chunk: Callable[[int, list[int]], None] | None = None,
    on_epoch: Callable[[EpochStats], None] | None = None,
    plots: bool = True,
    keep_models: bool = False,
) -> RepeatRun:
    """Train n seeds starting at config.seed, chunk replicas at a time, and record them.

    With keep_models, the returned RepeatRun keeps each chunk's TrainingResult
    (its model and data, about 1 MB a replica); otherwise only the outcomes stay.

    With plots, errors.png is drawn after the summary is written; a figure that
    fails becomes a warning. The recorded seconds never include the figures.

    On Ctrl-C or an error the folder keeps the finished chunks' rows, with
    status "interrupted" or "failed", and the exception propagates.
    """
    chunk = chunk or min(n, DEFAULT_MAX_CHUNK)
    run_dir = start_run(runs_dir, "repeat", config, config_path)
    header: dict[str, Any] = {
        "command": "repeat",
        "config": str(config_path),
        "first_seed": config.seed,
        "requested": n,
        "chunk": chunk,
        **environment(config),
    }
    replicas: list[ReplicaResult] = []
    chunks: list[TrainingResult] = []
    started = time.perf_counter()

    def record(status: str) -> dict[str, Any]:
        seconds = time.perf_counter() - started
        summary = {
            **header,
            **summarise(replicas),
            "seconds": seconds,
            "seconds_per_replica": seconds / len(replicas) if replicas else math.nan,
            "status": status,
        }
        _write_repeats(run_dir, replicas)
        write_json(run_dir / "summary.json", summary)
        return summary

    record(RUNNING)
    try:
        for index, seeds in enumerate(chunk_seeds(config.seed, n, chunk)):
            if on_chunk is not None:
                on_chunk(index, seeds)
            result = train(config, seeds, on_epoch, evaluate_every_epoch=False)
            replicas.extend(result.replicas)
            if keep_models:
                chunks.append(result)
            record(RUNNING)
    except BaseException as error:
        record(INTERRUPTED if isinstance(error, KeyboardInterrupt) else FAILED)
        raise

    summary = record(COMPLETED)

    figures = FigureLog()
    if plots:
        seeds = f"{config.seed}..{config.seed + n - 1}"
        title = f"repeat {Path(config_path).name}, seeds {seeds}"
        figures = draw_repeat_figures(run_dir, replicas, title)
    return RepeatRun(
        run_dir=run_dir,
        summary=summary,
        replicas=replicas,
        chunks=chunks,
        figures=figures.written,
        warnings=figures.warnings,
    )


def _write_repeats(run_dir: Path, replicas: list[ReplicaResult]) -> None:
    rows = [
        [r.seed, r.train_error, r.test_error, r.final_loss, r.status] for r in replicas
    ]
    write_csv(run_dir / "repeats.csv", REPEATS_HEADER, rows)
