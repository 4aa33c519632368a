"""Figures drawn with matplotlib and written as PNG files: one function per figure.

Each function takes plain data (sequences of numbers, a path), draws one figure
whose size in pixels is its *_SIZE in inches times DPI, writes it atomically to
the path and returns that path. Error rates come in as fractions and are drawn
in percent.

matplotlib is imported inside the functions, so the command line and the
framework never pay for importing it. Figures are built as
matplotlib.figure.Figure objects and saved with the Agg renderer, without
pyplot, so no GUI backend is selected and no figure outlives its function.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from minidl.runner.store import write_bytes

DPI = 100
PREDICTIONS_SIZE = (13.5, 4.5)
CURVES_SIZE = (11.0, 4.0)
ERRORS_SIZE = (6.0, 4.5)
COMPARE_SIZE = (11.0, 4.5)
TRAJECTORY_SIZE = (8.0, 4.5)

# A circle drawn over the points: centre x, centre y, radius.
Circle = tuple[float, float, float]

CLASS_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown")
ERROR_COLOUR = "red"
CORRECT_COLOUR = "lightgrey"


def plot_predictions(
    path: Path,
    points: Sequence[Sequence[float]],
    labels: Sequence[int],
    predictions: Sequence[int],
    boundary: Circle | None = None,
    title: str = "",
) -> Path:
    """Draw the true labels, the predicted labels and the misclassified points.

    points is (N, 2) in the data's own coordinates; labels and predictions are N
    class indices. The boundary circle, when given, is drawn on every panel.
    """
    import numpy as np

    points = np.asarray(points, dtype=float)
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"expected points of shape (N, 2), got {points.shape}")

    figure, (truth, predicted, errors) = _new_figure(PREDICTIONS_SIZE, columns=3)
    _scatter_classes(truth, points, labels)
    truth.set_title("test set: true labels")
    _scatter_classes(predicted, points, predictions)
    predicted.set_title("test set: predictions")

    wrong = labels != predictions
    errors.scatter(*points[~wrong].T, s=6, color=CORRECT_COLOUR, label="correct")
    errors.scatter(*points[wrong].T, s=10, color=ERROR_COLOUR, label="misclassified")
    errors.set_title(
        f"test errors: {wrong.sum()} of {len(wrong)} ({100 * wrong.mean():.2f}%)"
    )

    for axes in (truth, predicted, errors):
        if boundary is not None:
            _draw_circle(axes, boundary)
        axes.set_aspect("equal")
        axes.legend(loc="upper right", fontsize="small", framealpha=0.9)
    return _save(figure, path, title)


def plot_curves(
    path: Path,
    epochs: Sequence[int],
    loss: Sequence[float],
    train_error: Sequence[float],
    test_error: Sequence[float],
    title: str = "",
) -> Path:
    """Draw the mean training loss (log scale) and the train and test error per epoch.

    Non-finite values, such as the loss of a diverged epoch, are left out.
    """
    figure, (loss_axes, error_axes) = _new_figure(CURVES_SIZE, columns=2)

    loss_axes.plot(epochs, _finite(loss), color="black")
    if any(value > 0 for value in _finite(loss)):
        loss_axes.set_yscale("log")
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("mean training loss")
    loss_axes.set_title("loss")

    error_axes.plot(epochs, _percent(train_error), label="train")
    error_axes.plot(epochs, _percent(test_error), label="test")
    error_axes.set_xlabel("epoch")
    error_axes.set_ylabel("error (%)")
    error_axes.set_title("error rate")
    error_axes.legend()

    for axes in (loss_axes, error_axes):
        axes.grid(alpha=0.3)
    return _save(figure, path, title)


def plot_error_distribution(
    path: Path,
    train_errors: Sequence[float],
    test_errors: Sequence[float],
    diverged: int = 0,
    title: str = "",
) -> Path:
    """Draw box plots of the train and test error over runs, each run a dot.

    The errors are those of the completed runs; diverged counts the runs left
    out, and the title states their count when there are any. Each mean is a diamond.
    """
    if not train_errors or not test_errors:
        raise ValueError("no completed runs to draw")

    figure, axes = _new_figure(ERRORS_SIZE)
    _draw_boxes(axes, [train_errors, test_errors], ["train", "test"])
    axes.set_ylabel("error (%)")

    runs = f"{len(test_errors)} runs"
    if diverged:
        runs += f", {diverged} diverged run(s) excluded"
    axes.set_title(f"error over {runs}", fontsize="medium")
    return _save(figure, path, title)


def plot_compare(
    path: Path,
    test_errors: tuple[Sequence[float], Sequence[float]],
    seconds_per_run: tuple[float, float],
    names: tuple[str, str] = ("minidl", "PyTorch"),
    title: str = "",
) -> Path:
    """Draw two frameworks' test error distributions side by side and their run times.

    test_errors and seconds_per_run hold one entry per framework, in the order of
    names.
    """
    figure, (error_axes, time_axes) = _new_figure(COMPARE_SIZE, columns=2)

    _draw_boxes(error_axes, list(test_errors), list(names))
    error_axes.set_ylabel("test error (%)")
    error_axes.set_title("test error over runs")

    bars = time_axes.bar(names, seconds_per_run, color=CLASS_COLOURS[:2])
    time_axes.bar_label(bars, fmt="%.3g s")
    time_axes.set_ylabel("seconds per run")
    time_axes.set_title("time per run")
    time_axes.margins(y=0.15)
    return _save(figure, path, title)


def plot_trajectory(
    path: Path,
    series: Mapping[str, Sequence[float]],
    tolerances: Mapping[str, float] | None = None,
    title: str = "",
) -> Path:
    """Draw the absolute loss difference at each training step on a log scale.

    ``series`` maps a label (a dtype) to its per-step differences. A tolerance
    with the same label is drawn as a dashed line in the same colour. Zero and
    non-finite differences cannot be drawn on a log scale, so they are left out
    and counted in the legend.
    """
    import numpy as np

    tolerances = tolerances or {}
    figure, axes = _new_figure(TRAJECTORY_SIZE)
    drawn_any = False
    for (label, values), colour in zip(series.items(), CLASS_COLOURS):
        differences = np.asarray(values, dtype=float)
        steps = np.arange(1, len(differences) + 1)
        drawable = np.isfinite(differences) & (differences > 0)
        left_out = int((~drawable).sum())
        note = f" ({left_out} steps at 0 or non-finite not shown)" if left_out else ""
        if drawable.any():
            axes.plot(
                steps[drawable],
                differences[drawable],
                linewidth=0.6,
                color=colour,
                label=label + note,
            )
            drawn_any = True
        if label in tolerances:
            axes.axhline(
                tolerances[label],
                color=colour,
                linestyle="--",
                linewidth=1,
                label=f"{label} tolerance",
            )
            drawn_any = True

    if drawn_any:
        axes.set_yscale("log")
        axes.legend(fontsize="small", loc="center right")
    axes.set_xlabel("step")
    axes.set_ylabel("|loss difference|, minidl vs PyTorch")
    axes.set_title("per-step loss difference from the same start", fontsize="medium")
    return _save(figure, path, title)


def _new_figure(size: tuple[float, float], columns: int = 1) -> tuple[Any, Any]:
    """Create a figure of `size` inches at DPI with one row of `columns` axes."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=DPI, layout="constrained")
    return figure, figure.subplots(1, columns)


def _save(figure: Any, path: Path, title: str) -> Path:
    """Render the figure as PNG in memory, then write it to path atomically."""
    if title:
        figure.suptitle(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def _scatter_classes(axes: Any, points: Any, labels: Any) -> None:
    import numpy as np

    for label in np.unique(labels):
        colour = CLASS_COLOURS[int(label) % len(CLASS_COLOURS)]
        chosen = points[labels == label]
        axes.scatter(*chosen.T, s=6, color=colour, label=f"class {label}")


def _draw_circle(axes: Any, circle: Circle) -> None:
    from matplotlib.patches import Circle as CirclePatch

    x, y, radius = circle
    axes.add_patch(
        CirclePatch((x, y), radius, fill=False, color="black", linestyle="--")
    )


def _draw_boxes(axes: Any, groups: list[Sequence[float]], names: list[str]) -> None:
    """Draw a box plot per group, in percent, with a diamond mean and a dot per run."""
    import numpy as np

    values = [_percent(group) for group in groups]
    positions = list(range(1, len(values) + 1))
    axes.boxplot(
        values,
        positions=positions,
        widths=0.3,
        showmeans=True,
        showfliers=False,
        medianprops={"color": "black"},
        meanprops={
            "marker": "D",
            "markerfacecolor": "black",
            "markeredgecolor": "black",
        },
    )

    jitter = np.random.default_rng(0)  # a fixed seed: the same data, the same figure
    for position, group in zip(positions, values):
        offsets = jitter.uniform(-0.1, 0.1, len(group))
        axes.scatter(position + offsets, group, s=10, alpha=0.5, zorder=3)
        mean = sum(group) / len(group)
        axes.annotate(
            f"mean {mean:.2f}%",
            (position, mean),
            xytext=(position + 0.2, mean),
            fontsize="small",
            va="center",
        )
    axes.set_xticks(positions, names)
    axes.set_xlim(0.5, len(values) + 0.8)  # room for the last mean's label
    axes.grid(axis="y", alpha=0.3)
    axes.legend(handles=_box_legend(), fontsize="small", loc="best")


def _box_legend() -> list[Any]:
    """Legend entries saying what a box plot's marks are."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    return [
        Patch(facecolor="none", edgecolor="black", label="quartiles"),
        Line2D([], [], color="black", label="median"),
        Line2D([], [], color="black", marker="D", linestyle="", label="mean"),
        Line2D(
            [], [], color="grey", marker="o", alpha=0.5, linestyle="", label="one run"
        ),
    ]


def _finite(values: Sequence[float]) -> list[float]:
    """Replace infinities by NaN, which matplotlib leaves out of a line."""
    return [value if math.isfinite(value) else math.nan for value in values]


def _percent(fractions: Sequence[float]) -> list[float]:
    return [100 * value for value in _finite(fractions)]
