"""minidl repeat: replicas equal lone runs, divergence stays local, statistics are right."""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import run_cli, run_folders, tiny_raw, write_yaml

from minidl import Linear
from minidl.runner import training
from minidl.runner.config import validate_config
from minidl.runner.repeat import chunk_seeds, run_repeat, summarise
from minidl.runner.training import EpochStats, Freezer, ReplicaResult, train

WEIGHT_TOLERANCE = {"float32": 1e-5, "float64": 1e-10}


def linear_weights(model, replica: int) -> list[torch.Tensor]:
    layers = [module for module in model.modules if isinstance(module, Linear)]
    return [
        tensor[replica] for layer in layers for tensor in (layer.weight, layer.bias)
    ]


def read_repeats(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "repeats.csv", newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_repeat_replicas_equal_lone_runs(tmp_path: Path, dtype: str):
    config = validate_config(tiny_raw(seed=11, dtype=dtype), "tiny.yaml")
    run = run_repeat(
        config, "tiny.yaml", tmp_path / "runs", n=5, chunk=2, keep_models=True
    )

    seeds = [11, 12, 13, 14, 15]
    assert [replica.seed for replica in run.replicas] == seeds
    assert [len(chunk.replicas) for chunk in run.chunks] == [2, 2, 1]
    for index, seed in enumerate(seeds):
        alone = train(config.model_copy(update={"seed": seed}), [seed])
        chunk, replica = run.chunks[index // 2], index % 2
        assert run.replicas[index].train_error == alone.replicas[0].train_error
        assert run.replicas[index].test_error == alone.replicas[0].test_error
        pairs = zip(
            linear_weights(chunk.model, replica), linear_weights(alone.model, 0)
        )
        for batched, lone in pairs:
            assert (batched - lone).abs().max().item() <= WEIGHT_TOLERANCE[dtype]


def test_repeat_diverged_replica_stays_local(tmp_path: Path, monkeypatch):
    """An infinite input in replica 1's data makes only that replica's loss NaN."""
    make_data = training.make_data

    def poisoned(config, generators):
        data = make_data(config, generators)
        data.train_inputs[1, 0, 0] = math.inf
        return data

    config = validate_config(tiny_raw(seed=3), "tiny.yaml")
    clean = train(config, [3, 4, 5])
    monkeypatch.setattr(training, "make_data", poisoned)
    run = run_repeat(config, "tiny.yaml", tmp_path / "runs", n=3)

    assert [replica.status for replica in run.replicas] == [
        "completed",
        "diverged",
        "completed",
    ]
    assert run.replicas[1].diverged_epoch == 1
    for index in (0, 2):
        assert run.replicas[index].test_error == clean.replicas[index].test_error
        assert run.replicas[index].final_loss == clean.replicas[index].final_loss
    assert run.summary["diverged"] == 1
    assert run.summary["completed"] == 2
    expected_mean = (clean.replicas[0].test_error + clean.replicas[2].test_error) / 2
    assert run.summary["test_error"]["mean"] == pytest.approx(expected_mean, abs=1e-15)


def test_freezer_restores_frozen_replica():
    weight = torch.zeros(2, 3, 4)
    optimizer = SimpleNamespace(params=[(weight, torch.zeros_like(weight))])
    freezer = Freezer(optimizer, replicas=2)
    stats = EpochStats(
        epoch=4, loss=[math.nan, 0.5], train_error=[0, 0], test_error=[0, 0], seconds=0
    )

    freezer.freeze_diverged(stats)
    weight += 1.0  # what an optimizer step would do to both replicas
    freezer.restore()

    assert freezer.diverged_epoch == [4, None]
    assert torch.equal(weight[0], torch.zeros(3, 4))
    assert torch.equal(weight[1], torch.ones(3, 4))
    assert not freezer.all_frozen()


def test_summarise_sample_std():
    rows = [
        ReplicaResult(
            seed=s,
            train_error=e,
            test_error=2 * e,
            final_loss=0.0,
            status="completed",
            epochs_completed=1,
        )
        for s, e in enumerate([0.1, 0.2, 0.3])
    ]
    diverged = ReplicaResult(
        seed=9,
        train_error=math.nan,
        test_error=math.nan,
        final_loss=math.nan,
        status="diverged",
        epochs_completed=0,
    )
    summary = summarise([*rows, diverged])
    assert summary["train_error"]["mean"] == pytest.approx(0.2, abs=1e-15)
    # sample std of 0.1, 0.2, 0.3: sqrt(((-0.1)^2 + 0 + 0.1^2) / (3 - 1)) = 0.1
    assert summary["train_error"]["std"] == pytest.approx(0.1, abs=1e-15)
    assert summary["test_error"]["std"] == pytest.approx(0.2, abs=1e-15)
    assert summary["train_error"]["min"] == 0.1
    assert summary["train_error"]["max"] == 0.3
    assert summary["diverged"] == 1
    assert summary["std_ddof"] == 1


def test_chunk_seeds_cover_range():
    assert chunk_seeds(5, 7, 3) == [[5, 6, 7], [8, 9, 10], [11]]
    assert chunk_seeds(0, 2, 10) == [[0, 1]]


def test_repeat_interrupt_keeps_finished_chunks(tmp_path: Path):
    config = validate_config(tiny_raw(seed=0), "tiny.yaml")

    def interrupt_second_chunk(index: int, seeds: list[int]) -> None:
        if index == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_repeat(
            config,
            "tiny.yaml",
            tmp_path / "runs",
            n=4,
            chunk=2,
            on_chunk=interrupt_second_chunk,
        )

    (run_dir,) = run_folders(tmp_path / "runs")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert [row["seed"] for row in read_repeats(run_dir)] == ["0", "1"]


def test_repeat_cli_json_and_folder(tmp_path: Path):
    config_path = write_yaml(tmp_path / "tiny.yaml", tiny_raw(seed=7))
    result = run_cli(
        "repeat",
        str(config_path),
        "--n",
        "4",
        "--chunk",
        "3",
        "--json",
        "--runs-dir",
        "runs",
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    (run_dir,) = run_folders(tmp_path / "runs")
    rows = read_repeats(run_dir)
    assert [int(row["seed"]) for row in rows] == [7, 8, 9, 10]
    test_errors = [float(row["test_error"]) for row in rows]
    assert summary["n"] == 4
    assert summary["status"] == "completed"
    assert summary["test_error"]["mean"] == pytest.approx(
        statistics.fmean(test_errors), abs=1e-12
    )
    assert summary["test_error"]["std"] == pytest.approx(
        statistics.stdev(test_errors), abs=1e-12
    )
    assert json.loads((run_dir / "summary.json").read_text())["n"] == 4
    assert (run_dir / "config.yaml").is_file()


def test_repeat_cli_table_states_sample_std(tmp_path: Path):
    config_path = write_yaml(tmp_path / "tiny.yaml", tiny_raw())
    result = run_cli(
        "repeat", str(config_path), "--n", "3", "--runs-dir", "runs", cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert "train error" in result.stdout
    assert "N-1" in result.stdout


@pytest.mark.parametrize("option", [["--n", "0"], ["--chunk", "0"], ["--n", "x"]])
def test_repeat_cli_bad_option_exits_2(tmp_path: Path, option: list[str]):
    config_path = write_yaml(tmp_path / "tiny.yaml", tiny_raw())
    result = run_cli(
        "repeat", str(config_path), *option, "--runs-dir", "runs", cwd=tmp_path
    )

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert run_folders(tmp_path / "runs") == []


def test_repeat_cli_all_diverged_exits_1(tmp_path: Path):
    config_path = write_yaml(tmp_path / "tiny.yaml", tiny_raw())
    result = run_cli(
        "repeat",
        str(config_path),
        "--n",
        "2",
        "--set",
        "optimizer.lr=1e6",
        "--quiet",
        "--no-plots",
        "--runs-dir",
        "runs",
        cwd=tmp_path,
    )

    assert result.returncode == 1
    assert "diverged: 2 of 2 runs (seeds 0, 1)" in result.stderr
    (run_dir,) = run_folders(tmp_path / "runs")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["diverged"] == 2


def test_repeat_cli_threads_recorded(tmp_path: Path):
    config_path = write_yaml(tmp_path / "tiny.yaml", tiny_raw())
    result = run_cli(
        "repeat",
        str(config_path),
        "--n",
        "2",
        "--threads",
        "1",
        "--json",
        "--no-plots",
        "--runs-dir",
        "runs",
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["threads"] == 1
