"""minidl runs and minidl show: every folder listed newest first, broken ones as
incomplete or unreadable, and one run's config, result and figures shown."""

from __future__ import annotations

import csv
import json
import os
import statistics
import sys
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from conftest import read_metrics, tiny_raw

from minidl import cli
from minidl.runner.browse import RunNotFound, find_run, list_runs, read_run
from minidl.runner.config import validate_config
from minidl.runner.experiment import run_train
from minidl.runner.repeat import run_repeat

UNKNOWN_ID = "20240106-120000-sweep-tiny"
TRAIN_ID = "20240105-120000-train-tiny"
REPEAT_ID = "20240104-120000-repeat-tiny"
COMPARE_ID = "20240103-120000-compare-disk"
INCOMPLETE_ID = "20240102-120000-train-tiny"
INTERRUPTED_ID = "20240101-120000-train-tiny"
CORRUPT_ID = "20231231-120000-repeat-tiny"
NOT_OBJECT_ID = "20231230-120000-train-tiny"
EMPTY_ID = "empty"  # no time in the name: ordered by its modification time
RANDOM_ID = "notes"

NEWEST_FIRST = [
    UNKNOWN_ID,
    TRAIN_ID,
    REPEAT_ID,
    COMPARE_ID,
    INCOMPLETE_ID,
    INTERRUPTED_ID,
    CORRUPT_ID,
    NOT_OBJECT_ID,
    EMPTY_ID,  # modified 2023-06-01
    RANDOM_ID,  # modified 2023-01-01
]

BROKEN = {
    INCOMPLETE_ID: "incomplete",
    INTERRUPTED_ID: "interrupted",
    CORRUPT_ID: "unreadable",
    NOT_OBJECT_ID: "unreadable",
    EMPTY_ID: "unreadable",
    RANDOM_ID: "unreadable",
}


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def set_mtime(path: Path, year: int, month: int, day: int) -> None:
    stamp = datetime(year, month, day).timestamp()
    os.utime(path, (stamp, stamp))


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    """A runs folder with one folder of each kind, under names that fix the order."""
    runs = tmp_path_factory.mktemp("browse") / "runs"
    config = validate_config(tiny_raw(), "tiny.yaml")

    train = run_train(config, "configs/tiny.yaml", runs)
    train.run_dir.rename(runs / TRAIN_ID)
    repeat = run_repeat(config, "configs/tiny.yaml", runs, n=3, plots=False)
    repeat.run_dir.rename(runs / REPEAT_ID)

    compare = {
        "command": "compare",
        "status": "completed",
        "config": "configs/disk.yaml",
    }
    write_json(runs / COMPARE_ID / "compare.json", {**compare, "seconds": 12.5})
    sweep = {"command": "sweep", "status": "completed", "config": "tiny.yaml"}
    write_json(runs / UNKNOWN_ID / "metrics.json", sweep)

    (runs / INCOMPLETE_ID).mkdir()
    (runs / INCOMPLETE_ID / "config.yaml").write_text("seed: 0\n", encoding="utf-8")
    interrupted = {
        "command": "train",
        "config": "tiny.yaml",
        "status": "interrupted",
        "train_error": 0.25,
        "test_error": 0.5,
        "epochs_completed": 2,
    }
    write_json(runs / INTERRUPTED_ID / "metrics.json", interrupted)
    (runs / CORRUPT_ID).mkdir()
    (runs / CORRUPT_ID / "summary.json").write_text('{"status": "comp', "utf-8")
    write_json(runs / NOT_OBJECT_ID / "metrics.json", [1, 2, 3])

    (runs / RANDOM_ID).mkdir()
    (runs / RANDOM_ID / "todo.txt").write_text("look at lr 0.1\n", encoding="utf-8")
    (runs / EMPTY_ID).mkdir()
    set_mtime(runs / RANDOM_ID, 2023, 1, 1)
    set_mtime(runs / EMPTY_ID, 2023, 6, 1)

    (runs / "stray.txt").write_text("not a run\n", encoding="utf-8")
    (runs / ".trash").mkdir()
    return runs


def entries_by_id(runs_dir: Path) -> dict:
    return {entry.id: entry for entry in list_runs(runs_dir)}


def invoke(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run `minidl ARGS` in this process; return the exit code, stdout and stderr."""
    monkeypatch.setattr(sys, "argv", ["minidl", *args])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


# The listing


def test_list_order(runs_dir):
    assert [entry.id for entry in list_runs(runs_dir)] == NEWEST_FIRST


def test_list_train(runs_dir):
    entry = entries_by_id(runs_dir)[TRAIN_ID]
    metrics = read_metrics(runs_dir / TRAIN_ID)

    assert entry.command == "train"
    assert entry.config == "tiny.yaml"
    assert entry.status == "completed"
    assert entry.train_error == metrics["train_error"]
    assert entry.test_error == metrics["test_error"]
    assert entry.train_error_std is None
    assert entry.seconds == metrics["seconds"]
    assert entry.problem is None


def test_list_repeat(runs_dir):
    entry = entries_by_id(runs_dir)[REPEAT_ID]
    with open(
        runs_dir / REPEAT_ID / "repeats.csv", newline="", encoding="utf-8"
    ) as file:
        rows = list(csv.DictReader(file))
    train_errors = [float(row["train_error"]) for row in rows]
    test_errors = [float(row["test_error"]) for row in rows]

    assert entry.command == "repeat"
    assert entry.status == "completed"
    assert entry.train_error == pytest.approx(statistics.fmean(train_errors))
    assert entry.test_error == pytest.approx(statistics.fmean(test_errors))
    assert entry.train_error_std == pytest.approx(statistics.stdev(train_errors))
    assert entry.test_error_std == pytest.approx(statistics.stdev(test_errors))


def test_list_compare(runs_dir):
    entry = entries_by_id(runs_dir)[COMPARE_ID]
    assert entry.command == "compare"
    assert entry.config == "disk.yaml"
    assert entry.status == "completed"
    assert entry.train_error is None
    assert entry.test_error is None
    assert entry.seconds == 12.5


def test_list_unknown_command(runs_dir):
    entry = entries_by_id(runs_dir)[UNKNOWN_ID]
    assert entry.command == "sweep"
    assert entry.status == "completed"
    assert entry.train_error is None
    assert entry.test_error is None


@pytest.mark.parametrize("run_id", list(BROKEN))
def test_list_broken(runs_dir, run_id):
    entry = entries_by_id(runs_dir)[run_id]
    assert entry.status == BROKEN[run_id]
    if BROKEN[run_id] != "interrupted":
        assert entry.problem


def test_list_broken_reasons(runs_dir):
    entries = entries_by_id(runs_dir)
    assert "summary.json" in entries[CORRUPT_ID].problem
    assert "JSON object" in entries[NOT_OBJECT_ID].problem
    assert "no result file" in entries[EMPTY_ID].problem
    assert entries[INCOMPLETE_ID].command == "train"  # read from the folder name


def test_list_missing_dir(tmp_path):
    assert list_runs(tmp_path / "absent") == []


def test_runs_json(runs_dir, monkeypatch, capsys):
    code, out, err = invoke(
        monkeypatch, capsys, "runs", "--runs-dir", str(runs_dir), "--json"
    )

    assert code == 0, err
    listed = json.loads(out)
    assert [run["id"] for run in listed] == NEWEST_FIRST
    by_id = {run["id"]: run for run in listed}
    assert (
        by_id[TRAIN_ID]["test_error"] == read_metrics(runs_dir / TRAIN_ID)["test_error"]
    )
    assert by_id[COMPARE_ID]["command"] == "compare"
    for run_id, status in BROKEN.items():
        assert by_id[run_id]["status"] == status


def test_runs_table(runs_dir, monkeypatch, capsys):
    code, out, err = invoke(monkeypatch, capsys, "runs", "--runs-dir", str(runs_dir))

    assert code == 0, err
    lines = out.splitlines()
    row_of = {}
    for run_id in NEWEST_FIRST:
        [row] = [index for index, line in enumerate(lines) if f" {run_id} " in line]
        row_of[run_id] = row
    assert [row_of[run_id] for run_id in NEWEST_FIRST] == sorted(row_of.values())

    summary = json.loads((runs_dir / REPEAT_ID / "summary.json").read_text())
    test = summary["test_error"]
    assert (
        f"{100 * test['mean']:.2f} ± {100 * test['std']:.2f}%"
        in lines[row_of[REPEAT_ID]]
    )
    for run_id, status in BROKEN.items():
        assert status in lines[row_of[run_id]]
    assert "compare" in lines[row_of[COMPARE_ID]]


@pytest.mark.parametrize("as_json", [False, True])
def test_runs_missing_dir(tmp_path, monkeypatch, capsys, as_json):
    options = ["--json"] if as_json else []
    absent = tmp_path / "absent"
    code, out, err = invoke(
        monkeypatch, capsys, "runs", "--runs-dir", str(absent), *options
    )

    assert code == 0, err
    if as_json:
        assert json.loads(out) == []
    else:
        assert "no runs" in out
    assert not absent.exists()


def test_runs_dir_is_file(tmp_path, monkeypatch, capsys):
    path = tmp_path / "runs"
    path.write_text("", encoding="utf-8")
    code, out, err = invoke(monkeypatch, capsys, "runs", "--runs-dir", str(path))

    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert str(path) in err
    assert "Traceback" not in err


# One run


def test_show_train(runs_dir, monkeypatch, capsys):
    code, out, err = invoke(
        monkeypatch, capsys, "show", TRAIN_ID, "--runs-dir", str(runs_dir)
    )

    assert code == 0, err
    run_dir = runs_dir / TRAIN_ID
    config_text = (run_dir / "config.yaml").read_text(encoding="utf-8")
    for line in config_text.splitlines():
        assert line in out
    assert "metrics.json" in out
    assert f'"test_error": {read_metrics(run_dir)["test_error"]}' in out
    for name in ("predictions.png", "curves.png"):
        assert str(run_dir / name) in out


def test_show_json_by_path(runs_dir, monkeypatch, capsys):
    run_dir = runs_dir / TRAIN_ID
    code, out, err = invoke(monkeypatch, capsys, "show", str(run_dir), "--json")

    assert code == 0, err
    shown = json.loads(out)
    config_text = (run_dir / "config.yaml").read_text(encoding="utf-8")
    assert shown["config"] == yaml.safe_load(config_text)
    assert shown["result_file"] == "metrics.json"
    assert shown["result"] == read_metrics(run_dir)
    assert shown["run"]["id"] == TRAIN_ID
    expected = [str(run_dir / "curves.png"), str(run_dir / "predictions.png")]
    assert shown["figures"] == expected


def test_show_repeat_no_figures(runs_dir):
    details = read_run(runs_dir / REPEAT_ID)
    assert details.result_file == "summary.json"
    assert details.figures == []


@pytest.mark.parametrize("run_id", [CORRUPT_ID, EMPTY_ID, INCOMPLETE_ID])
def test_show_broken(runs_dir, monkeypatch, capsys, run_id):
    code, out, err = invoke(
        monkeypatch, capsys, "show", run_id, "--runs-dir", str(runs_dir)
    )

    assert code == 0, err
    assert BROKEN[run_id] in out
    assert "Traceback" not in err


def test_show_unknown(runs_dir, monkeypatch, capsys):
    code, out, err = invoke(
        monkeypatch,
        capsys,
        "show",
        "20990101-000000-train-nope",
        "--runs-dir",
        str(runs_dir),
    )

    assert code == 2
    assert out == ""
    [line] = err.strip().splitlines()
    assert "20990101-000000-train-nope" in line
    assert line.startswith("minidl: error:")


def test_find_run_path_or_name(runs_dir, tmp_path):
    assert find_run(runs_dir, TRAIN_ID) == runs_dir / TRAIN_ID
    assert (
        find_run(tmp_path / "elsewhere", str(runs_dir / TRAIN_ID))
        == runs_dir / TRAIN_ID
    )
    with pytest.raises(RunNotFound, match="stray.txt"):
        find_run(runs_dir, "stray.txt")  # a file is not a run folder
