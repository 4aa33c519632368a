"""What the terminal shows: progress bars on stderr and result tables."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

stderr = Console(stderr=True)
stdout = Console()


def percent(fraction: float | None) -> str:
    if fraction is None or math.isnan(fraction):
        return "-"
    return f"{100 * fraction:.2f}%"


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Progress | None]:
    """A progress display on stderr, or None when disabled."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, transient=False) as progress:
        yield progress


def train_table(metrics: dict[str, Any]) -> Table:
    name = Path(metrics["config"]).name
    table = Table(title=f"train {name}, seed {metrics['seed']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("train error", percent(metrics.get("train_error")))
    table.add_row("test error", percent(metrics.get("test_error")))
    loss = metrics.get("final_loss")
    table.add_row(
        "final loss", "-" if loss is None or math.isnan(loss) else f"{loss:.6f}"
    )
    table.add_row("wall time", f"{metrics['seconds']:.3f} s")
    table.add_row("time per epoch", f"{1000 * metrics['seconds_per_epoch']:.3f} ms")
    table.add_row("status", metrics["status"])
    return table


def repeat_table(summary: dict[str, Any]) -> Table:
    name = Path(summary["config"]).name
    completed, diverged = summary["completed"], summary["diverged"]
    first = summary["first_seed"]
    last = first + summary["n"] - 1
    table = Table(title=f"repeat {name}, seeds {first}..{last}")
    for column in ("", "mean", "std", "min", "max"):
        table.add_column(column, justify="right" if column else "left")
    for key in ("train_error", "test_error"):
        stats = summary[key]
        table.add_row(
            key.replace("_", " "),
            *(percent(stats[field]) for field in ("mean", "std", "min", "max")),
        )
    excluded = f"; {diverged} diverged run(s) excluded" if diverged else ""
    table.caption = (
        f"over {completed} completed runs{excluded}; std is the sample standard "
        f"deviation (N-1), in percentage points; "
        f"{summary['seconds_per_replica']:.3f} s per run, {summary['seconds']:.1f} s in all"
    )
    return table
