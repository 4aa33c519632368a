"""Figures: written as whole PNGs of the set size, drawn from the run's own data,
turned off by --no-plots, and never able to change a run's result or exit code."""

from __future__ import annotations

import ast
import csv
import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO, read_history, read_metrics, tiny_raw

from minidl import cli
from minidl.data import disk
from minidl.runner import build, plots, training
from minidl.runner import config as config_module
from minidl.runner.config import validate_config
from minidl.runner.experiment import run_train
from minidl.runner.repeat import run_repeat

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TRAIN_FIGURES = {
    "predictions.png": plots.PREDICTIONS_SIZE,
    "curves.png": plots.CURVES_SIZE,
}


def png_size(path: Path) -> tuple[int, int]:
    """Width and height in pixels, read from the IHDR chunk that opens every PNG."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    length, chunk_type, width, height = struct.unpack(">I4sII", data[8:24])
    assert chunk_type == b"IHDR"
    assert length == 13
    return width, height


def pixels(size_inches: tuple[float, float]) -> tuple[int, int]:
    width, height = size_inches
    return round(width * plots.DPI), round(height * plots.DPI)


def tiny_config(**sections):
    return validate_config(tiny_raw(**sections), "tiny.yaml")


def folder_files(run_dir: Path) -> set[str]:
    """Every entry of the folder, hidden temporary files included."""
    return set(os.listdir(run_dir))


def raise_boom(*args, **kwargs):
    raise RuntimeError("boom")


def invoke(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run `minidl ARGS` in this process; return the exit code, stdout and stderr."""
    monkeypatch.setattr(sys, "argv", ["minidl", *args])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


# Figures written by the runs


def test_train_figures_written(tmp_path):
    from matplotlib.image import imread

    run = run_train(tiny_config(), "tiny.yaml", tmp_path / "runs")

    assert run.warnings == []
    assert [path.name for path in run.figures] == list(TRAIN_FIGURES)
    for name, size in TRAIN_FIGURES.items():
        path = run.run_dir / name
        width, height = pixels(size)
        assert png_size(path) == (width, height)
        assert imread(path).shape[:2] == (height, width)  # the whole image decodes
    expected = {"config.yaml", "metrics.json", "history.csv", *TRAIN_FIGURES}
    assert folder_files(run.run_dir) == expected


def test_repeat_figure_written(tmp_path):
    run = run_repeat(tiny_config(), "tiny.yaml", tmp_path / "runs", n=3)

    assert run.warnings == []
    assert run.figures == [run.run_dir / "errors.png"]
    assert png_size(run.run_dir / "errors.png") == pixels(plots.ERRORS_SIZE)
    expected = {"config.yaml", "summary.json", "repeats.csv", "errors.png"}
    assert folder_files(run.run_dir) == expected


def test_no_plots_api(tmp_path):
    train_run = run_train(tiny_config(), "tiny.yaml", tmp_path / "runs", plots=False)
    repeat_run = run_repeat(
        tiny_config(), "tiny.yaml", tmp_path / "runs", 2, plots=False
    )

    for run in (train_run, repeat_run):
        assert run.figures == []
        assert run.warnings == []
        assert list(run.run_dir.glob("*.png")) == []


@pytest.mark.parametrize("command", [["train"], ["repeat", "--n", "2"]])
def test_no_plots_cli(tmp_path, monkeypatch, capsys, command):
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(json.dumps(tiny_raw()), encoding="utf-8")  # JSON is YAML
    runs_dir = tmp_path / "runs"

    code, _, err = invoke(
        monkeypatch,
        capsys,
        *command,
        str(config_path),
        "--runs-dir",
        str(runs_dir),
        "--quiet",
        "--no-plots",
    )

    assert code == 0, err
    [run_dir] = runs_dir.iterdir()
    assert list(run_dir.glob("*.png")) == []
    assert "warning" not in err


# What the figures are drawn from


def test_predictions_raw_points(tmp_path, monkeypatch):
    """The figure gets the test set as drawn (before normalisation) and true labels."""
    calls = []

    def capture(path, points, labels, predictions, boundary, title):
        calls.append((points, labels, predictions, boundary))
        return Path(path)

    monkeypatch.setattr(plots, "plot_predictions", capture)
    run = run_train(tiny_config(seed=7), "tiny.yaml", tmp_path / "runs")

    generator = torch.Generator().manual_seed(7)
    disk(200, generator)  # the training set is drawn first
    test_points, test_labels = disk(200, generator)

    [(points, labels, predictions, boundary)] = calls
    assert torch.tensor(points).equal(test_points)
    assert labels == test_labels.tolist()
    inside = [(x - 0.5) ** 2 + (y - 0.5) ** 2 < 1 / (2 * math.pi) for x, y in points]
    assert labels == [int(flag) for flag in inside]
    assert boundary == pytest.approx((0.5, 0.5, 1 / math.sqrt(2 * math.pi)))

    assert len(predictions) == 200
    assert set(predictions) <= {0, 1}
    wrong = sum(p != t for p, t in zip(predictions, labels))
    assert wrong / 200 == run.metrics["test_error"]


def test_curves_from_history(tmp_path, monkeypatch):
    calls = []

    def capture(path, epochs, loss, train_error, test_error, title):
        calls.append((epochs, loss, train_error, test_error))
        return Path(path)

    monkeypatch.setattr(plots, "plot_curves", capture)
    run = run_train(tiny_config(), "tiny.yaml", tmp_path / "runs")

    [(epochs, loss, train_error, test_error)] = calls
    rows = read_history(run.run_dir)
    assert epochs == [1, 2, 3, 4, 5]
    assert loss == [float(row["loss"]) for row in rows]
    assert train_error == [float(row["train_error"]) for row in rows]
    assert test_error == [float(row["test_error"]) for row in rows]


def test_errors_exclude_diverged(tmp_path, monkeypatch):
    """Replica 1 gets an infinite input, diverges and is left out of errors.png."""
    make_data = training.make_data

    def poisoned(config, generators):
        data = make_data(config, generators)
        data.train_inputs[1, 0, 0] = math.inf
        return data

    calls = []

    def capture(path, train_errors, test_errors, diverged, title):
        calls.append((train_errors, test_errors, diverged))
        return Path(path)

    monkeypatch.setattr(training, "make_data", poisoned)
    monkeypatch.setattr(plots, "plot_error_distribution", capture)
    run = run_repeat(tiny_config(), "tiny.yaml", tmp_path / "runs", n=3)

    with open(run.run_dir / "repeats.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    completed = [row for row in rows if row["status"] == "completed"]
    [(train_errors, test_errors, diverged)] = calls
    assert diverged == 1
    assert train_errors == [float(row["train_error"]) for row in completed]
    assert test_errors == [float(row["test_error"]) for row in completed]


def test_errors_all_diverged(tmp_path):
    config = tiny_config(optimizer={"type": "sgd", "lr": 1e6})
    run = run_repeat(config, "tiny.yaml", tmp_path / "runs", n=2)

    assert run.summary["diverged"] == 2
    assert run.figures == []
    assert run.warnings == ["errors.png skipped: every run diverged"]
    assert not (run.run_dir / "errors.png").exists()


def test_diverged_train_skips_predictions(tmp_path):
    config = tiny_config(optimizer={"type": "sgd", "lr": 1e6})
    run = run_train(config, "tiny.yaml", tmp_path / "runs")

    assert run.metrics["status"] == "diverged"
    assert run.warnings == ["predictions.png skipped: the run diverged"]
    assert run.figures == [run.run_dir / "curves.png"]
    assert png_size(run.run_dir / "curves.png") == pixels(plots.CURVES_SIZE)


def test_three_features_skip(tmp_path, monkeypatch):
    """Data with a third input feature gets curves.png but no predictions.png."""

    def disk_3d(n, generator=None, dtype=torch.float32):
        points, labels = disk(n, generator, dtype)
        noise = torch.rand(n, 1, generator=generator, dtype=dtype)
        return torch.cat([points, noise], -1), labels

    monkeypatch.setitem(config_module.DATA_FEATURES, "disk", 3)
    monkeypatch.setitem(build.DATA_GENERATORS, "disk", disk_3d)
    model = tiny_raw()["model"]
    model[0]["in_features"] = 3
    # One step is enough and keeps the test fast.
    training_section = {"epochs": 1, "batch_size": 200, "shuffle": False}
    config = tiny_config(model=model, training=training_section)
    run = run_train(config, "tiny.yaml", tmp_path / "runs")

    assert run.metrics["status"] == "completed"
    assert run.warnings == [
        "predictions.png skipped: the data has 3 input features and the figure draws 2"
    ]
    assert run.figures == [run.run_dir / "curves.png"]
    assert not (run.run_dir / "predictions.png").exists()


def test_seconds_fixed_before_plots(tmp_path, monkeypatch):
    """Figures are drawn after the result file is final, so its seconds exclude them."""
    seen = {}

    def peek(name: str):
        def render(path, *args, **kwargs):
            seen[name] = json.loads((Path(path).parent / name).read_text())
            return Path(path)

        return render

    monkeypatch.setattr(plots, "plot_curves", peek("metrics.json"))
    monkeypatch.setattr(plots, "plot_error_distribution", peek("summary.json"))
    train_run = run_train(tiny_config(), "tiny.yaml", tmp_path / "runs")
    repeat_run = run_repeat(tiny_config(), "tiny.yaml", tmp_path / "runs", n=2)

    assert seen["metrics.json"] == read_metrics(train_run.run_dir)
    assert seen["metrics.json"]["status"] == "completed"
    final_summary = json.loads((repeat_run.run_dir / "summary.json").read_text())
    assert seen["summary.json"] == final_summary
    assert seen["summary.json"]["status"] == "completed"


# A figure that fails


def test_train_plot_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "plot_predictions", raise_boom)
    run = run_train(tiny_config(), "tiny.yaml", tmp_path / "runs")

    assert run.warnings == ["predictions.png not written: boom"]
    assert run.figures == [run.run_dir / "curves.png"]
    assert run.metrics["status"] == "completed"
    assert read_metrics(run.run_dir) == json.loads(json.dumps(run.metrics))
    assert len(read_history(run.run_dir)) == 5
    expected = {"config.yaml", "metrics.json", "history.csv", "curves.png"}
    assert folder_files(run.run_dir) == expected


def test_repeat_plot_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "plot_error_distribution", raise_boom)
    run = run_repeat(tiny_config(), "tiny.yaml", tmp_path / "runs", n=2)

    assert run.warnings == ["errors.png not written: boom"]
    assert run.figures == []
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["completed"] == 2
    assert folder_files(run.run_dir) == {"config.yaml", "summary.json", "repeats.csv"}


@pytest.mark.parametrize("as_json", [False, True])
def test_cli_plot_failure(tmp_path, monkeypatch, capsys, as_json):
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(json.dumps(tiny_raw()), encoding="utf-8")
    runs_dir = tmp_path / "runs"
    monkeypatch.setattr(plots, "plot_curves", raise_boom)

    options = ["--json"] if as_json else ["--quiet"]
    code, out, err = invoke(
        monkeypatch,
        capsys,
        "train",
        str(config_path),
        "--runs-dir",
        str(runs_dir),
        *options,
    )

    assert code == 0
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert warnings == ["warning: curves.png not written: boom"]
    [run_dir] = runs_dir.iterdir()
    metrics = read_metrics(run_dir)
    assert metrics["status"] == "completed"
    assert (run_dir / "predictions.png").exists()
    assert not (run_dir / "curves.png").exists()
    if as_json:
        assert json.loads(out)["test_error"] == metrics["test_error"]


# The plotting functions themselves


def test_all_figure_sizes(tmp_path):
    errors = [0.03, 0.05, 0.04, 0.06]
    written = {
        plots.plot_predictions(
            tmp_path / "p.png",
            [[0.1, 0.2], [0.5, 0.5], [0.9, 0.1]],
            [0, 1, 0],
            [0, 1, 1],
            (0.5, 0.5, 0.4),
        ): plots.PREDICTIONS_SIZE,
        plots.plot_curves(
            tmp_path / "c.png",
            [1, 2, 3],
            [0.5, math.inf, math.nan],
            errors[:3],
            errors[1:],
        ): plots.CURVES_SIZE,
        plots.plot_error_distribution(
            tmp_path / "e.png", errors, errors[::-1], diverged=2
        ): plots.ERRORS_SIZE,
        plots.plot_compare(
            tmp_path / "cmp.png", (errors, errors[1:]), (1.5, 2.5)
        ): plots.COMPARE_SIZE,
        plots.plot_trajectory(
            tmp_path / "t.png",
            {"float32": [1e-7, 0.0, 3e-8, math.nan, 2e-9], "float64": [1e-16, 0.0]},
            {"float32": 1e-5, "float64": 1e-10},
        ): plots.TRAJECTORY_SIZE,
    }
    assert len(written) == 5
    for path, size in written.items():
        assert png_size(path) == pixels(size), path.name


def test_trajectory_all_zero(tmp_path):
    path = plots.plot_trajectory(tmp_path / "t.png", {"float64": [0.0] * 10})
    assert png_size(path) == pixels(plots.TRAJECTORY_SIZE)


def test_render_failure_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        plots.plot_predictions(tmp_path / "p.png", [[0.1, 0.2, 0.3]], [0], [0])
    with pytest.raises(ValueError, match="no completed runs"):
        plots.plot_error_distribution(tmp_path / "e.png", [], [])
    assert os.listdir(tmp_path) == []


def test_png_write_atomic(tmp_path, monkeypatch):
    """A PNG whose write fails leaves the old file whole and no temporary file."""
    path = tmp_path / "curves.png"
    path.write_bytes(b"old")

    def fail_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail_replace)
    with pytest.raises(OSError, match="disk full"):
        plots.plot_curves(path, [1], [0.5], [0.1], [0.2])
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["curves.png"]


# matplotlib stays out of the framework and the command line's startup


def test_framework_no_matplotlib():
    for path in (REPO / "minidl").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(name.split(".")[0] == "matplotlib" for name in names), path


def test_startup_no_matplotlib():
    code = (
        "import sys, minidl, minidl.cli, minidl.runner.experiment, "
        "minidl.runner.repeat, minidl.runner.browse, minidl.runner.plots; "
        "print('matplotlib' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
