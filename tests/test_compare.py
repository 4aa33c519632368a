"""minidl compare: lockstep agreement over a grid of configs, failure localisation, statistics."""

from __future__ import annotations

import csv
import itertools
import json
import sys
from pathlib import Path

import pytest
from conftest import run_cli, run_folders, tiny_raw, write_yaml

import minidl.cli
from minidl import Linear
from minidl.runner.config import validate_config
from minidl.runner.lockstep import TOLERANCE, lockstep

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

OPTIMIZERS = {
    "plain": {},
    "momentum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.9, "nesterov": True},
    "dampening": {"momentum": 0.5, "dampening": 0.5},
    "weight_decay": {"momentum": 0.5, "weight_decay": 0.01},
}


def grid_config(loss: str, activation: str, optimizer: str, dtype: str):
    """Two hidden layers, 200 points in batches of 30 (the last batch has 20)."""
    raw = tiny_raw(
        dtype=dtype,
        model=[
            {"type": "linear", "in_features": 2, "out_features": 6},
            {"type": activation},
            {"type": "linear", "in_features": 6, "out_features": 5},
            {"type": activation},
            {"type": "linear", "in_features": 5, "out_features": 2},
        ],
        loss={"type": loss},
        training={"epochs": 3, "batch_size": 30, "shuffle": True},
    )
    raw["optimizer"].update(lr=0.1, **OPTIMIZERS[optimizer])
    return validate_config(raw, "grid.yaml")


GRID = list(
    itertools.product(
        ["mse", "cross_entropy"],
        ["tanh", "relu", "sigmoid"],
        OPTIMIZERS,
        ["float32", "float64"],
    )
)


@pytest.mark.parametrize(("loss", "activation", "optimizer", "dtype"), GRID)
def test_lockstep_grid_agrees(loss: str, activation: str, optimizer: str, dtype: str):
    result = lockstep(grid_config(loss, activation, optimizer, dtype))

    assert result.steps == 3 * 7
    assert result.first_failure is None
    assert result.max_loss_difference.value < TOLERANCE[dtype]
    assert result.max_parameter_difference.value < TOLERANCE[dtype]


def test_lockstep_default_init_agrees():
    raw = tiny_raw(dtype="float64", init={"weight": "default", "bias": "default"})
    result = lockstep(validate_config(raw, "tiny.yaml"))

    assert result.passed


@pytest.fixture
def wrong_gradient(monkeypatch):
    """A test double: from step 4 on, layer 2's weight gradient is off by 1e-3."""
    calls = {"count": 0}
    backward = Linear.backward

    def perturbed(self, grad_output):
        grad_input = backward(self, grad_output)
        if self.in_features == 6 and self.out_features == 5:
            calls["count"] += 1
            if calls["count"] >= 4:
                self.grad_weight += 1e-3
        return grad_input

    monkeypatch.setattr(Linear, "backward", perturbed)


def test_lockstep_wrong_gradient_names_step_and_layer(wrong_gradient):
    result = lockstep(grid_config("mse", "tanh", "plain", "float64"))

    assert not result.passed
    assert result.first_failure.step == 4
    assert result.first_failure.quantity == "2.weight"


def test_compare_cli_wrong_gradient_exits_1(
    wrong_gradient, tmp_path, monkeypatch, capsys
):
    config_path = write_yaml(
        tmp_path / "grid.yaml",
        tiny_raw(
            model=[
                {"type": "linear", "in_features": 2, "out_features": 6},
                {"type": "tanh"},
                {"type": "linear", "in_features": 6, "out_features": 5},
                {"type": "tanh"},
                {"type": "linear", "in_features": 5, "out_features": 2},
            ],
            dtype="float64",
        ),
    )
    argv = [
        "minidl",
        "compare",
        str(config_path),
        "--pytorch",
        "--n",
        "0",
        "--quiet",
        "--runs-dir",
        str(tmp_path / "runs"),
    ]
    monkeypatch.setattr(sys, "argv", argv)

    with pytest.raises(SystemExit) as exit_info:
        minidl.cli.main()

    assert exit_info.value.code == 1
    message = capsys.readouterr().out
    assert "DISAGREE" in message
    assert "step 4 in 2.weight" in message
    (run_dir,) = run_folders(tmp_path / "runs")
    report = json.loads((run_dir / "compare.json").read_text())
    assert report["verdict"] == "DISAGREE"
    assert report["lockstep"][0]["first_failure"]["step"] == 4


def test_compare_cli_lockstep_only(tmp_path: Path):
    config_path = write_yaml(tmp_path / "tiny.yaml", tiny_raw())
    result = run_cli(
        "compare",
        str(config_path),
        "--pytorch",
        "--n",
        "0",
        "--steps",
        "12",
        "--json",
        "--runs-dir",
        "runs",
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "agree"
    assert report["statistics"] is None
    assert [check["dtype"] for check in report["lockstep"]] == ["float32", "float64"]
    assert all(check["steps"] == 12 for check in report["lockstep"])
    (run_dir,) = run_folders(tmp_path / "runs")
    with open(run_dir / "trajectory.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 12
    for row in rows:
        difference = abs(float(row["minidl_loss"]) - float(row["reference_loss"]))
        assert float(row["difference"]) == pytest.approx(difference, abs=1e-12)
    assert (run_dir / "trajectory-float64.csv").is_file()
    assert (run_dir / "trajectory.png").read_bytes().startswith(PNG_SIGNATURE)
    assert not (run_dir / "compare.png").exists()


def test_compare_cli_statistics_small_n(tmp_path: Path):
    config_path = write_yaml(tmp_path / "tiny.yaml", tiny_raw())
    result = run_cli(
        "compare",
        str(config_path),
        "--pytorch",
        "--n",
        "3",
        "--steps",
        "5",
        "--json",
        "--runs-dir",
        "runs",
        cwd=tmp_path,
    )

    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    statistics = report["statistics"]
    (run_dir,) = run_folders(tmp_path / "runs")
    for name in ("minidl.csv", "reference.csv"):
        with open(run_dir / name, newline="") as file:
            assert len(list(csv.DictReader(file))) == 3
    interval = statistics["test_error_difference"]
    assert interval["low"] <= interval["difference"] <= interval["high"]
    assert statistics["minidl"]["n"] == 3
    assert statistics["reference"]["n"] == 3
    assert statistics["time_ratio"] > 0
    assert (run_dir / "compare.png").read_bytes().startswith(PNG_SIGNATURE)
    assert (run_dir / "trajectory.png").read_bytes().startswith(PNG_SIGNATURE)


def test_compare_cli_no_plots_writes_no_png(tmp_path: Path):
    config_path = write_yaml(tmp_path / "tiny.yaml", tiny_raw())
    result = run_cli(
        "compare",
        str(config_path),
        "--pytorch",
        "--n",
        "2",
        "--steps",
        "3",
        "--no-plots",
        "--quiet",
        "--runs-dir",
        "runs",
        cwd=tmp_path,
    )

    assert result.returncode in (0, 1), result.stderr
    (run_dir,) = run_folders(tmp_path / "runs")
    assert list(run_dir.glob("*.png")) == []


@pytest.mark.parametrize(
    "options", [[], ["--pytorch", "--n", "1"], ["--pytorch", "--steps", "0"]]
)
def test_compare_cli_bad_options_exit_2(tmp_path: Path, options: list[str]):
    config_path = write_yaml(tmp_path / "tiny.yaml", tiny_raw())
    result = run_cli(
        "compare", str(config_path), *options, "--runs-dir", "runs", cwd=tmp_path
    )

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert run_folders(tmp_path / "runs") == []


CLI_GRID = [
    ("cross_entropy", "relu", "nesterov"),
    ("mse", "sigmoid", "weight_decay"),
    ("cross_entropy", "tanh", "dampening"),
]


@pytest.mark.parametrize(("loss", "activation", "optimizer"), CLI_GRID)
def test_compare_cli_grid_agrees(
    tmp_path: Path, loss: str, activation: str, optimizer: str
):
    config = grid_config(loss, activation, optimizer, "float32")
    config_path = write_yaml(tmp_path / "grid.yaml", config.model_dump(mode="json"))
    result = run_cli(
        "compare",
        str(config_path),
        "--pytorch",
        "--n",
        "0",
        "--no-plots",
        "--json",
        "--runs-dir",
        "runs",
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "agree"
    assert [check["steps"] for check in report["lockstep"]] == [21, 21]
    assert all(check["passed"] for check in report["lockstep"])
