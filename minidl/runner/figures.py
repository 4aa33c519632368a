"""The figures each command writes into its run folder, and the results behind them.

A figure is a by-product: one that cannot be drawn becomes a one-line warning
and never changes a run's metrics, its other files or its exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from minidl.data import DISK_CENTRE, DISK_RADIUS
from minidl.runner import plots
from minidl.runner.training import COMPLETED, ReplicaResult, TrainingResult

# The true class boundary of each data generator, drawn over its points.
DATA_BOUNDARIES: dict[str, plots.Circle] = {
    "disk": (DISK_CENTRE, DISK_CENTRE, DISK_RADIUS)
}


@dataclass
class FigureLog:
    """The figures a run wrote, and one warning for each figure it did not write."""

    written: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def draw(self, path: Path, render: Callable[[Path], Path]) -> None:
        """Call render(path); turn any exception it raises into a warning."""
        try:
            self.written.append(render(path))
        except Exception as error:  # noqa: BLE001 - a figure never costs the result
            reason = str(error) or type(error).__name__
            self.warnings.append(f"{path.name} not written: {reason}")

    def skip(self, name: str, reason: str) -> None:
        self.warnings.append(f"{name} skipped: {reason}")


def draw_train_figures(
    run_dir: Path, result: TrainingResult, generator: str, title: str
) -> FigureLog:
    """Write predictions.png (two-feature data only) and curves.png for a single run.

    predictions.png is skipped when the run diverged, since a network with NaN
    weights predicts nothing meaningful.
    """
    figures = FigureLog()
    features = result.data.raw_test_inputs.shape[-1]
    if features != 2:
        figures.skip(
            "predictions.png",
            f"the data has {features} input features and the figure draws 2",
        )
    elif result.replicas[0].status != COMPLETED:
        figures.skip("predictions.png", "the run diverged")
    else:

        def render_predictions(path: Path) -> Path:
            points, labels, predictions = _test_predictions(result)
            boundary = DATA_BOUNDARIES.get(generator)
            return plots.plot_predictions(
                path, points, labels, predictions, boundary, title
            )

        figures.draw(run_dir / "predictions.png", render_predictions)

    def render_curves(path: Path) -> Path:
        history = result.history
        return plots.plot_curves(
            path,
            [stats.epoch for stats in history],
            [stats.loss[0] for stats in history],
            [stats.train_error[0] for stats in history],
            [stats.test_error[0] for stats in history],
            title,
        )

    figures.draw(run_dir / "curves.png", render_curves)
    return figures


def draw_repeat_figures(
    run_dir: Path, replicas: list[ReplicaResult], title: str
) -> FigureLog:
    """Write errors.png: the train and test errors of the completed replicas."""
    figures = FigureLog()
    completed = [replica for replica in replicas if replica.status == COMPLETED]
    if not completed:
        figures.skip("errors.png", "every run diverged")
        return figures

    def render_errors(path: Path) -> Path:
        return plots.plot_error_distribution(
            path,
            [replica.train_error for replica in completed],
            [replica.test_error for replica in completed],
            diverged=len(replicas) - len(completed),
            title=title,
        )

    figures.draw(run_dir / "errors.png", render_errors)
    return figures


def _test_predictions(
    result: TrainingResult,
) -> tuple[list[list[float]], list[int], list[int]]:
    """Replica 0's raw test points, their labels and the trained model's predictions."""
    data = result.data
    with torch.inference_mode():
        outputs = result.model.forward(data.test_inputs)
    predictions = outputs.argmax(-1)[0].tolist()
    return data.raw_test_inputs[0].tolist(), data.test_labels[0].tolist(), predictions


def draw_compare_figures(
    run_dir: Path,
    trajectories: dict[str, list[float]],
    tolerances: dict[str, float],
    test_errors: tuple[list[float], list[float]] | None,
    seconds_per_run: tuple[float, float] | None,
    title: str,
) -> FigureLog:
    """Write trajectory.png, and compare.png when the statistics part ran."""
    figures = FigureLog()
    figures.draw(
        run_dir / "trajectory.png",
        lambda path: plots.plot_trajectory(path, trajectories, tolerances, title),
    )
    if test_errors is None or seconds_per_run is None:
        figures.skip("compare.png", "the statistics part was skipped (--n 0)")
        return figures

    figures.draw(
        run_dir / "compare.png",
        lambda path: plots.plot_compare(
            path, test_errors, seconds_per_run, title=title
        ),
    )
    return figures
