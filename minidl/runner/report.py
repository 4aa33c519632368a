"""Terminal output: progress bars on stderr, result tables on stdout."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from minidl.runner.store import to_json_safe

if TYPE_CHECKING:
    from minidl.runner.browse import RunDetails, RunEntry

stderr = Console(stderr=True)
stdout = Console()


def percent(fraction: float | None) -> str:
    if fraction is None or math.isnan(fraction):
        return "-"
    return f"{100 * fraction:.2f}%"


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Progress | None]:
    """Yield a progress display on stderr, or None when disabled."""
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


STATUS_STYLES = {
    "completed": "green",
    "diverged": "red",
    "failed": "red",
    "unreadable": "red",
}


def runs_table(entries: list[RunEntry], runs_dir: Path) -> Table:
    """Build a table of the run folders, one row each, in the order given."""
    table = Table(title=f"runs in {runs_dir}, newest first")
    table.add_column("id", no_wrap=True)  # never cut: `minidl show` takes it
    table.add_column("command")
    table.add_column("config")
    table.add_column("status", no_wrap=True)
    for column in ("train error", "test error", "time"):
        table.add_column(column, justify="right")

    for entry in entries:
        seconds = "-" if entry.seconds is None else f"{entry.seconds:.2f} s"
        table.add_row(
            entry.id,
            entry.command,
            entry.config,
            Text(entry.status, style=STATUS_STYLES.get(entry.status, "yellow")),
            error_with_std(entry.train_error, entry.train_error_std),
            error_with_std(entry.test_error, entry.test_error_std),
            seconds,
        )
    return table


def print_uncut(table: Table) -> None:
    """Print a table on stdout; to a pipe or file at its full width, so no cell is cut.

    rich sizes output that is not a terminal to 80 columns, which cuts long run ids.
    """
    if stdout.is_terminal:
        stdout.print(table)
        return
    options = stdout.options.update_width(10_000)
    width = max(Measurement.get(stdout, options, table).maximum, stdout.width)
    Console(file=stdout.file, width=width, no_color=stdout.no_color).print(table)


def error_with_std(mean: float | None, std: float | None) -> str:
    """Format an error rate in percent, as "mean ± std%" when the std is known."""
    if mean is None or std is None or math.isnan(mean) or math.isnan(std):
        return percent(mean)
    return f"{100 * mean:.2f} ± {100 * std:.2f}%"


def print_run(details: RunDetails) -> None:
    """Print one run: its folder and status, config.yaml, result file and figures."""
    entry = details.entry
    _print_plain(f"run: {entry.id}")
    _print_plain(f"folder: {entry.path}")
    _print_plain(f"command: {entry.command}")
    _print_plain(f"config: {entry.config}")
    _print_plain(f"status: {entry.status}")
    if entry.problem is not None:
        _print_plain(f"problem: {entry.problem}")

    stdout.rule("config.yaml")
    _print_plain(details.config_text or "(missing or unreadable)")

    stdout.rule(details.result_file or "result")
    if details.result is None:
        _print_plain("(missing or unreadable)")
    else:
        _print_plain(json.dumps(to_json_safe(details.result), indent=2))

    stdout.rule("figures")
    for path in details.figures:
        _print_plain(str(path))
    if not details.figures:
        _print_plain("(none)")


def print_warnings(warnings: list[str]) -> None:
    """Print each warning as one line on stderr."""
    for warning in warnings:
        stderr.print(
            f"warning: {warning}", markup=False, highlight=False, soft_wrap=True
        )


def _print_plain(text: str) -> None:
    """Print text as it is: no markup, no highlighting, no wrapping."""
    stdout.print(text.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)


def _mean_std(stats: dict[str, float]) -> str:
    return f"{percent(stats['mean'])} ± {percent(stats['std'])}"


def lockstep_table(checks: list[dict[str, Any]]) -> Table:
    table = Table(title="same start, same batches: largest differences")
    for column in (
        "dtype",
        "steps",
        "loss (step)",
        "parameter (step, name)",
        "tolerance",
        "result",
    ):
        table.add_column(
            column, justify="left" if column in ("dtype", "result") else "right"
        )
    for check in checks:
        loss = check["max_loss_difference"]
        parameter = check["max_parameter_difference"]
        failure = check["first_failure"]
        result = (
            "pass"
            if check["passed"]
            else (f"FAIL at step {failure['step']}, {failure['quantity']}")
        )
        table.add_row(
            check["dtype"],
            str(check["steps"]),
            f"{loss['value']:.2e} ({loss['step']})",
            f"{parameter['value']:.2e} ({parameter['step']}, {parameter['quantity']})",
            f"{check['tolerance']:.0e}",
            result,
        )
    return table


def statistics_table(statistics: dict[str, Any]) -> Table:
    table = Table(title=f"same experiment, {statistics['n']} seeded runs each")
    published = statistics.get("published")
    columns = ["", "minidl", "PyTorch"] + (["published"] if published else [])
    for column in columns:
        table.add_column(column, justify="right" if column else "left")
    ours, theirs = statistics["minidl"], statistics["reference"]
    for key in ("train_error", "test_error"):
        row = [key.replace("_", " "), _mean_std(ours[key]), _mean_std(theirs[key])]
        if published:
            row.append(_mean_std(published[key]))
        table.add_row(*row)
    row = ["diverged runs", str(ours["diverged"]), str(theirs["diverged"])]
    table.add_row(*row, *([""] if published else []))
    row = [
        "time per run",
        f"{ours['seconds_per_run']:.3f} s",
        f"{theirs['seconds_per_run']:.3f} s",
    ]
    table.add_row(*row, *([""] if published else []))
    difference = statistics["test_error_difference"]
    table.caption = (
        f"test error difference minidl - PyTorch: {100 * difference['difference']:+.2f} points, "
        f"95% CI [{100 * difference['low']:+.2f}, {100 * difference['high']:+.2f}] (Welch); "
        f"time ratio {statistics['time_ratio']:.3f}; std is the sample std (N-1)"
    )
    return table


def verdict_line(report: dict[str, Any]) -> str:
    """Format the verdict line: agree or DISAGREE, with the figures behind it."""
    parts = []
    for check in report["lockstep"]:
        text = (
            f"{check['dtype']} max loss diff {check['max_loss_difference']['value']:.1e}, "
            f"max parameter diff {check['max_parameter_difference']['value']:.1e}"
        )
        failure = check["first_failure"]
        if failure is not None:
            text += (
                f", first beyond {check['tolerance']:.0e} at step {failure['step']} "
                f"in {failure['quantity']} ({failure['value']:.1e})"
            )
        parts.append(text)
    statistics = report.get("statistics")
    if statistics is not None:
        difference = statistics["test_error_difference"]
        inside = "contains" if difference["contains_zero"] else "excludes"
        parts.append(
            f"test error CI [{100 * difference['low']:+.2f}, {100 * difference['high']:+.2f}] "
            f"points {inside} 0"
        )
    return f"{report['verdict']}: " + "; ".join(parts)
