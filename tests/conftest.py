"""Fixtures for the runner and CLI tests: a tiny fast config and a CLI launcher."""

from __future__ import annotations

import copy
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DISK_CONFIG = REPO / "configs" / "disk.yaml"

# The disk model of configs/disk.yaml, shrunk so that a run takes well under a second:
# one hidden layer of 8, 200 training and 200 test points, 5 epochs of 10 minibatches.
TINY = {
    "seed": 0,
    "dtype": "float32",
    "device": "cpu",
    "data": {
        "generator": "disk",
        "train_size": 200,
        "test_size": 200,
        "normalise": True,
    },
    "model": [
        {"type": "linear", "in_features": 2, "out_features": 8},
        {"type": "tanh"},
        {"type": "linear", "in_features": 8, "out_features": 2},
    ],
    "init": {"weight": "xavier_uniform", "bias": "zeros"},
    "loss": {"type": "mse"},
    "optimizer": {
        "type": "sgd",
        "lr": 0.5,
        "momentum": 0.0,
        "dampening": 0.0,
        "nesterov": False,
        "weight_decay": 0.0,
    },
    "training": {"epochs": 5, "batch_size": 20, "shuffle": True},
}

# A subprocess that hangs must not hang the suite.
CLI_TIMEOUT_S = 120


def tiny_raw(**sections) -> dict:
    """Return a fresh copy of TINY with some top-level entries replaced."""
    raw = copy.deepcopy(TINY)
    raw.update(copy.deepcopy(sections))
    return raw


def write_yaml(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def read_history(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "history.csv", newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def read_metrics(run_dir: Path) -> dict:
    """Read metrics.json as strict JSON, so that a NaN or Infinity in it fails the test."""

    def reject(constant: str):
        raise AssertionError(
            f"metrics.json contains {constant}, which is not valid JSON"
        )

    text = (run_dir / "metrics.json").read_text(encoding="utf-8")
    return json.loads(text, parse_constant=reject)


def run_folders(runs_dir: Path) -> list[Path]:
    """Return the run folders under runs_dir sorted by name, or none when it is absent."""
    if not runs_dir.exists():
        return []
    return sorted(path for path in runs_dir.iterdir() if path.is_dir())


def cli_command(*args: str, console_script: bool = False) -> list[str]:
    """Return the argv of `minidl ARGS`, through `python -m minidl.cli` or the console script."""
    if console_script:
        return [str(Path(sys.executable).parent / "minidl"), *args]
    return [sys.executable, "-m", "minidl.cli", *args]


def run_cli(
    *args: str, cwd: Path, console_script: bool = False
) -> subprocess.CompletedProcess:
    """Run `minidl ARGS` to the end in cwd and capture stdout and stderr as text."""
    return subprocess.run(
        cli_command(*args, console_script=console_script),
        cwd=cwd,
        check=False,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


@pytest.fixture
def tiny_path(tmp_path: Path) -> Path:
    """Write the tiny config to tmp_path/tiny.yaml and return its path."""
    return write_yaml(tmp_path / "tiny.yaml", tiny_raw())
