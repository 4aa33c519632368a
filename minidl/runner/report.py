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
