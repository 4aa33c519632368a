"""minidl against torch.nn + autograd + torch.optim: same path, then same statistics.

Part 1 runs the lockstep check (minidl.runner.lockstep) in the config's dtype
and in float64. Part 2 trains N seeded runs with each framework, each with its
own initialisation functions and its own random stream, and tests whether the
mean test errors differ (Welch's 95% interval of the difference contains 0).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minidl.reference import ReferenceResult, train_reference
from minidl.runner.config import Config
from minidl.runner.experiment import run_header, start_run
from minidl.runner.figures import FigureLog, draw_compare_figures
from minidl.runner.lockstep import LockstepResult, lockstep
from minidl.runner.repeat import DEFAULT_MAX_CHUNK, chunk_seeds, summarise
from minidl.runner.stats import welch_interval
from minidl.runner.store import FAILED, INTERRUPTED, write_csv, write_json
from minidl.runner.training import COMPLETED, ReplicaResult, train

# The reference's run r draws from seed s + r + this offset, a stream disjoint
# from minidl's seeds s + r, so the two samples are independent experiments.
REFERENCE_SEED_OFFSET = 1_000_000_007

# Figures published for the disk experiment over 100 runs, as fractions.
PUBLISHED_DISK = {
    "train_error": {"mean": 0.013, "std": 0.004},
    "test_error": {"mean": 0.033, "std": 0.013},
}

AGREE, DISAGREE = "agree", "DISAGREE"
RUN_HEADER = ["seed", "train_error", "test_error", "final_loss", "status"]


@dataclass
class CompareRun:
    """A comparison's folder, its report (compare.json) and its figures."""

    run_dir: Path
    report: dict[str, Any]
    figures: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return self.report["verdict"] == AGREE


@dataclass
class Progress:
    """Callbacks for a caller that shows progress; each receives (done, total)."""

    lockstep: Callable[[str, int, int], None] | None = None
    minidl: Callable[[int, int], None] | None = None
    reference: Callable[[int, int], None] | None = None


def run_compare(
    config: Config,
    config_path: str | Path,
    runs_dir: str | Path,
    n: int = 100,
    steps: int | None = None,
    progress: Progress | None = None,
    plots: bool = True,
) -> CompareRun:
    """Run both parts, record them in a new run folder, and return the report.

    With plots, trajectory.png and compare.png are drawn after compare.json is
    final; a figure that fails becomes a warning and changes nothing else.
    """
    progress = progress or Progress()
    run_dir = start_run(runs_dir, "compare", config, config_path)
    report = run_header("compare", config, config_path)
    write_json(run_dir / "compare.json", report)

    samples = None
    try:
        report["lockstep"], trajectories = _lockstep_part(
            config, steps, run_dir, progress
        )
        report["statistics"] = None
        if n > 0:
            report["statistics"], samples = _statistics_part(
                config, n, run_dir, progress
            )
    except BaseException as error:
        report["status"] = (
            INTERRUPTED if isinstance(error, KeyboardInterrupt) else FAILED
        )
        write_json(run_dir / "compare.json", report)
        raise

    report["verdict"] = verdict(report)
    report["status"] = COMPLETED
    write_json(run_dir / "compare.json", report)

    figures = FigureLog()
    if plots:
        seconds = None
        if report["statistics"] is not None:
            statistics = report["statistics"]
            seconds = (
                statistics["minidl"]["seconds_per_run"],
                statistics["reference"]["seconds_per_run"],
            )
        title = f"compare {Path(config_path).name}"
        tolerances = {
            check["dtype"]: check["tolerance"] for check in report["lockstep"]
        }
        figures = draw_compare_figures(
            run_dir, trajectories, tolerances, samples, seconds, title
        )
    return CompareRun(run_dir, report, figures.written, figures.warnings)


def verdict(report: dict[str, Any]) -> str:
    """ "agree" when every lockstep check passed and the interval contains 0."""
    lockstep_passed = all(check["passed"] for check in report["lockstep"])
    statistics = report.get("statistics")
    interval_ok = (
        statistics is None or statistics["test_error_difference"]["contains_zero"]
    )
    return AGREE if lockstep_passed and interval_ok else DISAGREE


def _lockstep_part(
    config: Config, steps: int | None, run_dir: Path, progress: Progress
) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    """Run the lockstep checks; return their summaries and each dtype's loss differences."""
    dtypes = [config.dtype] if config.dtype == "float64" else [config.dtype, "float64"]
    checks = []
    trajectories = {}
    for dtype in dtypes:
        on_step = None
        if progress.lockstep is not None:
            on_step = lambda done, total, dtype=dtype: progress.lockstep(
                dtype, done, total
            )
        result = lockstep(config.model_copy(update={"dtype": dtype}), steps, on_step)
        name = "trajectory.csv" if dtype == config.dtype else f"trajectory-{dtype}.csv"
        write_csv(
            run_dir / name,
            ["step", "minidl_loss", "reference_loss", "difference"],
            [list(row) for row in result.trajectory],
        )
        checks.append(_lockstep_summary(result, name))
        trajectories[dtype] = [difference for *_, difference in result.trajectory]
    return checks, trajectories


def _lockstep_summary(result: LockstepResult, trajectory_file: str) -> dict[str, Any]:
    failure = result.first_failure
    return {
        "dtype": result.dtype,
        "steps": result.steps,
        "tolerance": result.tolerance,
        "passed": result.passed,
        "max_loss_difference": vars(result.max_loss_difference),
        "max_parameter_difference": vars(result.max_parameter_difference),
        "first_failure": None if failure is None else vars(failure),
        "trajectory_file": trajectory_file,
    }


def _statistics_part(
    config: Config, n: int, run_dir: Path, progress: Progress
) -> tuple[dict[str, Any], tuple[list[float], list[float]]]:
    """Train both samples; return the statistics and each sample's completed test errors."""
    minidl_runs, minidl_seconds = _train_minidl(config, n, progress.minidl)
    write_csv(run_dir / "minidl.csv", RUN_HEADER, [_row(run) for run in minidl_runs])

    reference_runs, reference_seconds = _train_reference(config, n, progress.reference)
    write_csv(
        run_dir / "reference.csv", RUN_HEADER, [_row(run) for run in reference_runs]
    )

    minidl_summary = summarise(minidl_runs)
    reference_summary = summarise(reference_runs)
    completed_errors = [
        [run.test_error for run in runs if run.status == COMPLETED]
        for runs in (minidl_runs, reference_runs)
    ]
    minidl_errors, reference_errors = completed_errors
    interval = welch_interval(minidl_errors, reference_errors)
    minidl_per_run, reference_per_run = minidl_seconds / n, reference_seconds / n
    statistics = {
        "n": n,
        "minidl": {
            **minidl_summary,
            "seconds_per_run": minidl_per_run,
            "first_seed": config.seed,
        },
        "reference": {
            **reference_summary,
            "seconds_per_run": reference_per_run,
            "first_seed": config.seed + REFERENCE_SEED_OFFSET,
        },
        "test_error_difference": {
            "difference": interval.difference,
            "low": interval.low,
            "high": interval.high,
            "degrees_of_freedom": interval.degrees_of_freedom,
            "confidence": interval.confidence,
            "contains_zero": interval.contains_zero(),
        },
        "time_ratio": minidl_per_run / reference_per_run,
        "published": PUBLISHED_DISK if config.data.generator == "disk" else None,
    }
    return statistics, (minidl_errors, reference_errors)


def _train_minidl(
    config: Config, n: int, on_progress: Callable[[int, int], None] | None
) -> tuple[list[ReplicaResult], float]:
    """Train the n seeds with the batched repeat engine."""
    started = time.perf_counter()
    runs: list[ReplicaResult] = []
    for seeds in chunk_seeds(config.seed, n, min(n, DEFAULT_MAX_CHUNK)):
        runs.extend(train(config, seeds, evaluate_every_epoch=False).replicas)
        if on_progress is not None:
            on_progress(len(runs), n)
    return runs, time.perf_counter() - started


def _train_reference(
    config: Config, n: int, on_progress: Callable[[int, int], None] | None
) -> tuple[list[ReplicaResult], float]:
    """Train the n reference runs one after another, as a PyTorch user would."""
    started = time.perf_counter()
    runs = []
    for index in range(n):
        result = train_reference(config, config.seed + REFERENCE_SEED_OFFSET + index)
        runs.append(_as_replica(result))
        if on_progress is not None:
            on_progress(index + 1, n)
    return runs, time.perf_counter() - started


def _as_replica(result: ReferenceResult) -> ReplicaResult:
    return ReplicaResult(
        seed=result.seed,
        train_error=result.train_error,
        test_error=result.test_error,
        final_loss=result.final_loss,
        status=result.status,
        epochs_completed=0,
    )


def _row(run: ReplicaResult) -> list[Any]:
    return [run.seed, run.train_error, run.test_error, run.final_loss, run.status]
