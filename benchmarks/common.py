"""Shared helpers of the benchmark scripts: machine description and medians."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch


def machine() -> str:
    """Describe the machine in one line: CPU, core and thread counts, library versions."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}; {os.cpu_count()} cores; torch {torch.__version__} "
        f"with {torch.get_num_threads()} threads; Python {platform.python_version()}"
    )


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads for every contender (default: torch's own choice)",
    )


def apply_threads(threads: int | None) -> None:
    if threads is not None:
        torch.set_num_threads(threads)


def time_call(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def alternate(
    functions: dict[str, Callable[[], object]], repeats: int
) -> dict[str, float]:
    """Run each function once per round, in turn, for `repeats` rounds; return medians.

    Alternating spreads any slow phase of the machine over all contenders alike.
    """
    for function in functions.values():
        function()  # warm-up: first-call allocation and dispatch caches
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            times[name].append(time_call(function))
    return {name: statistics.median(values) for name, values in times.items()}
