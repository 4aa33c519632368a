"""`minidl train CONFIG` through its entry point: run folders, --json, errors, Ctrl-C."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import pytest
import torch
import yaml
from conftest import (
    CLI_TIMEOUT_S,
    cli_command,
    read_history,
    read_metrics,
    run_cli,
    run_folders,
    tiny_raw,
    write_yaml,
)

from minidl import cli
from minidl.runner import store
from minidl.runner.config import load_config

HISTORY_COLUMNS = ["epoch", "loss", "train_error", "test_error", "seconds"]
SETS = ["model.0.out_features=6", "model.2.in_features=6", "training.epochs=4"]


def only_folder(runs_dir: Path) -> Path:
    folders = run_folders(runs_dir)
    assert len(folders) == 1, folders
    return folders[0]


def results(run_dir: Path) -> tuple:
    """Return what a rerun must reproduce bit for bit: the metrics and every epoch's values."""
    metrics = read_metrics(run_dir)
    rows = [
        (row["epoch"], row["loss"], row["train_error"], row["test_error"])
        for row in read_history(run_dir)
    ]
    return metrics["train_error"], metrics["test_error"], metrics["final_loss"], rows


# One --json run with --set and --seed, checked by the tests below it.


@dataclass
class Run:
    """A finished CLI process and the one run folder it left under folder/runs_name."""

    folder: Path
    process: subprocess.CompletedProcess
    runs_name: str = "out"
    run_dir: Path = field(init=False)

    def __post_init__(self):
        folders = run_folders(self.folder / self.runs_name)
        assert len(folders) == 1, (folders, self.process.stderr)
        self.run_dir = folders[0]


@pytest.fixture(scope="module")
def json_run(tmp_path_factory) -> Run:
    folder = tmp_path_factory.mktemp("json_run")
    write_yaml(folder / "tiny.yaml", tiny_raw())
    sets = [arg for item in SETS for arg in ("--set", item)]
    process = run_cli(
        "train",
        "tiny.yaml",
        *sets,
        "--seed",
        "7",
        "--runs-dir",
        "out",
        "--json",
        cwd=folder,
    )
    return Run(folder, process)


def test_json_exit(json_run):
    assert json_run.process.returncode == 0, json_run.process.stderr


def test_json_stdout(json_run):
    stdout = json_run.process.stdout
    assert len(stdout.strip().splitlines()) == 1
    printed = json.loads(stdout)
    assert isinstance(printed, dict)
    metrics = read_metrics(json_run.run_dir)
    assert {key: printed[key] for key in metrics} == metrics
    assert (
        Path(json_run.folder, printed["run_dir"]).resolve()
        == json_run.run_dir.resolve()
    )


def test_json_no_traceback(json_run):
    assert "Traceback" not in json_run.process.stderr


def test_json_metrics(json_run):
    metrics = read_metrics(json_run.run_dir)
    assert metrics["status"] == "completed"
    assert metrics["seed"] == 7
    assert metrics["dtype"] == "float32"
    assert metrics["device"] == "cpu"
    assert metrics["torch_version"] == torch.__version__
    assert metrics["minidl_version"] == version("minidl")
    assert math.isfinite(metrics["seconds"])
    data = tiny_raw()["data"]
    for key, size in [
        ("train_error", data["train_size"]),
        ("test_error", data["test_size"]),
    ]:
        assert 0 <= metrics[key] <= 1
        wrong = metrics[key] * size
        assert math.isclose(wrong, round(wrong))
    assert math.isfinite(metrics["final_loss"])


def test_json_history(json_run):
    rows = read_history(json_run.run_dir)
    assert list(rows[0]) == HISTORY_COLUMNS
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3, 4]
    last = rows[-1]
    metrics = read_metrics(json_run.run_dir)
    assert float(last["loss"]) == metrics["final_loss"]
    assert float(last["train_error"]) == metrics["train_error"]
    assert float(last["test_error"]) == metrics["test_error"]


def test_json_config_saved(json_run):
    saved = yaml.safe_load(
        (json_run.run_dir / "config.yaml").read_text(encoding="utf-8")
    )
    expected = tiny_raw()
    expected["seed"] = 7
    expected["model"][0]["out_features"] = 6
    expected["model"][2]["in_features"] = 6
    expected["training"]["epochs"] = 4
    assert saved == expected


def test_json_config_loads(json_run):
    saved = load_config(json_run.run_dir / "config.yaml")
    assert saved == load_config(json_run.folder / "tiny.yaml", SETS, seed=7)


# Reruns: from the saved config alone (through the console script, default runs
# folder), and with another seed.


@pytest.fixture(scope="module")
def rerun(json_run) -> Run:
    config = json_run.run_dir / "config.yaml"
    process = run_cli(
        "train", str(config), "--quiet", cwd=json_run.folder, console_script=True
    )
    return Run(json_run.folder, process, runs_name="runs")  # the default --runs-dir


def test_rerun_exit(rerun):
    assert rerun.process.returncode == 0, rerun.process.stderr


def test_rerun_quiet(rerun):
    assert rerun.process.stdout == ""
    assert rerun.process.stderr == ""


def test_rerun_same(json_run, rerun):
    assert rerun.run_dir != json_run.run_dir
    assert results(rerun.run_dir) == results(json_run.run_dir)
    assert read_metrics(rerun.run_dir)["seed"] == 7


@pytest.fixture(scope="module")
def other_seed(json_run) -> subprocess.CompletedProcess:
    config = json_run.run_dir / "config.yaml"
    return run_cli(
        "train",
        str(config),
        "--seed",
        "8",
        "--runs-dir",
        "out",
        "--json",
        cwd=json_run.folder,
    )


def test_seed_differs(json_run, other_seed):
    assert other_seed.returncode == 0, other_seed.stderr
    first, second = run_folders(json_run.folder / "out")
    assert json_run.run_dir in (first, second)
    other = second if first == json_run.run_dir else first
    assert read_metrics(other)["seed"] == 8
    assert read_metrics(json_run.run_dir)["seed"] == 7
    assert (
        yaml.safe_load((other / "config.yaml").read_text(encoding="utf-8"))["seed"] == 8
    )
    assert (
        read_metrics(other)["final_loss"]
        != read_metrics(json_run.run_dir)["final_loss"]
    )


# In-process calls of the entry point, for what needs a patched clock or many cases.


def call_main(monkeypatch, capfd, *args) -> tuple[int, str, str]:
    """Run cli.main() with argv `minidl ARGS` and return the exit code, stdout and stderr."""
    monkeypatch.setattr(sys, "argv", ["minidl", *args])
    with pytest.raises(SystemExit) as raised:
        cli.main()
    out, err = capfd.readouterr()
    code = raised.value.code
    return (0 if code is None else code), out, err


class FrozenClock(store.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2024, 1, 2, 3, 4, 5)


def test_same_second(tmp_path, monkeypatch, capfd, tiny_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(store, "datetime", FrozenClock)
    for _ in range(2):
        code, _, err = call_main(
            monkeypatch, capfd, "train", "tiny.yaml", "--runs-dir", "runs", "--quiet"
        )
        assert code == 0, err
    first, second = run_folders(tmp_path / "runs")
    assert (
        read_metrics(first)["status"] == read_metrics(second)["status"] == "completed"
    )
    assert results(first) == results(second)


# Bad input: exit code 2, one line on stderr, no traceback, no run folder.


@dataclass
class Bad:
    """A bad input. The config is TINY with `edits` applied (dotted key -> value),
    or `text` verbatim; `expect` are words the one-line message must contain."""

    args: tuple[str, ...] = ()
    edits: dict = field(default_factory=dict)
    text: str | None = None
    expect: tuple[str, ...] = ()
    names_file: bool = True
    config: str = "exp.yaml"


def edited(edits: dict) -> dict:
    raw = tiny_raw()
    for key, value in edits.items():
        *parents, last = key.split(".")
        node = raw
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return raw


BAD = {
    "unknown_key": Bad(edits={"colour": "blue"}, expect=("colour", "unknown")),
    "unknown_nested_key": Bad(
        edits={"optimizer.betas": 0.9}, expect=("optimizer.betas", "unknown")
    ),
    "unknown_key_set": Bad(
        args=("--set", "training.patience=3"), expect=("training.patience", "unknown")
    ),
    "missing_key": Bad(text="optimizer: {lr: 0.1}\n", expect=("model", "missing")),
    "lr_string": Bad(
        edits={"optimizer.lr": "abc"}, expect=("optimizer.lr", "number", "abc")
    ),
    "lr_zero": Bad(
        args=("--set", "optimizer.lr=0"), expect=("optimizer.lr", "greater than 0")
    ),
    "lr_negative": Bad(
        edits={"optimizer.lr": -0.5}, expect=("optimizer.lr", "greater than 0")
    ),
    "batch_size_zero": Bad(
        edits={"training.batch_size": 0},
        expect=("training.batch_size", "greater than or equal to 1", "got 0"),
    ),
    "momentum_negative": Bad(
        edits={"optimizer.momentum": -0.1},
        expect=("optimizer.momentum", "greater than or equal to 0", "-0.1"),
    ),
    "momentum_one": Bad(
        edits={"optimizer.momentum": 1}, expect=("optimizer.momentum", "less than 1")
    ),
    "layers_not_chained": Bad(
        edits={"model.0.out_features": 9},
        expect=("model.2.in_features", "expected 9", "got 8"),
    ),
    "input_size": Bad(
        edits={"model.0.in_features": 3},
        expect=("model.0.in_features", "expected 2", "got 3"),
    ),
    "output_size": Bad(
        edits={"model.2.out_features": 3},
        expect=("model.2.out_features", "expected 2", "got 3"),
    ),
    "no_linear_layer": Bad(
        text="model: [{type: tanh}]\noptimizer: {lr: 0.1}\ntraining: {epochs: 1, batch_size: 1}\n",
        expect=("model", "linear"),
    ),
    "unknown_activation": Bad(
        edits={"model.1.type": "gelu"}, expect=("model.1.type", "gelu", "tanh")
    ),
    "unknown_layer": Bad(
        args=("--set", "model.1={type: conv}"),
        expect=("model.1.type", "conv", "linear"),
    ),
    "unknown_loss": Bad(
        edits={"loss.type": "hinge"}, expect=("loss.type", "hinge", "mse")
    ),
    "nesterov_no_momentum": Bad(
        edits={"optimizer.nesterov": True}, expect=("optimizer", "nesterov", "momentum")
    ),
    "cuda_unavailable": Bad(
        args=("--set", "device=cuda"), expect=("device", "cuda", "cpu")
    ),
    "float16": Bad(edits={"dtype": "float16"}, expect=("dtype", "float16", "float32")),
    "negative_seed": Bad(
        args=("--seed", "-1"), expect=("seed", "greater than or equal to 0", "-1")
    ),
    "missing_file": Bad(config="absent.yaml", expect=("not found",)),
    "malformed_yaml": Bad(
        text="optimizer: {lr: 0.1\ntraining: [\n", expect=("YAML", "line")
    ),
    "not_a_mapping": Bad(text="- 1\n- 2\n", expect=("mapping",)),
    "set_no_equals": Bad(
        args=("--set", "optimizer.lr"),
        expect=("--set", "optimizer.lr", "key.path=value"),
        names_file=False,
    ),
    "set_index_range": Bad(
        args=("--set", "model.5.out_features=2"), expect=("model.5", "index")
    ),
    "seed_not_integer": Bad(
        args=("--seed", "abc"), expect=("--seed", "integer"), names_file=False
    ),
    "unknown_option": Bad(args=("--colour",), expect=("--colour",), names_file=False),
    "runs_dir_is_file": Bad(
        args=("--runs-dir", "taken"),
        expect=("--runs-dir", "taken", "folder"),
        names_file=False,
    ),
}

CUDA = torch.cuda.is_available()


def bad_case(name):
    marks = []
    if name == "cuda_unavailable":
        marks.append(pytest.mark.skipif(CUDA, reason="cuda is available here"))
    return pytest.param(name, id=name, marks=marks)


def prepare(folder: Path, bad: Bad) -> list[str]:
    """Write the bad case's files into folder and return the train command's arguments."""
    if bad.text is not None:
        (folder / bad.config).write_text(bad.text, encoding="utf-8")
    elif bad.config != "absent.yaml":
        write_yaml(folder / bad.config, edited(bad.edits))
    (folder / "taken").write_text("a file, not a folder\n", encoding="utf-8")
    runs = [] if "--runs-dir" in bad.args else ["--runs-dir", "runs"]
    return ["train", bad.config, *runs, *bad.args]


def check_rejected(folder: Path, bad: Bad, code: int, out: str, err: str) -> None:
    assert code == 2, err
    assert "Traceback" not in out + err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    message = lines[0]
    for word in bad.expect + ((bad.config,) if bad.names_file else ()):
        assert word in message, f"{word!r} missing from: {message}"
    assert [path for path in folder.rglob("*") if path.is_dir()] == []
    assert (folder / "taken").read_text(encoding="utf-8") == "a file, not a folder\n"


@pytest.mark.parametrize("name", [bad_case(name) for name in BAD])
def test_bad_input(tmp_path, monkeypatch, capfd, name):
    bad = BAD[name]
    monkeypatch.chdir(tmp_path)
    args = prepare(tmp_path, bad)
    code, out, err = call_main(monkeypatch, capfd, *args)
    check_rejected(tmp_path, bad, code, out, err)


@pytest.mark.parametrize(
    "name", ["unknown_nested_key", "malformed_yaml", "unknown_option"]
)
def test_bad_input_process(tmp_path, name):
    bad = BAD[name]
    args = prepare(tmp_path, bad)
    process = run_cli(*args, cwd=tmp_path)
    check_rejected(tmp_path, bad, process.returncode, process.stdout, process.stderr)


# A diverging run: exit code 1, status "diverged", advice on stderr.


@pytest.fixture(scope="module")
def diverged(tmp_path_factory) -> Run:
    folder = tmp_path_factory.mktemp("diverged")
    write_yaml(folder / "tiny.yaml", tiny_raw())
    process = run_cli(
        "train",
        "tiny.yaml",
        "--set",
        "optimizer.lr=1000000",
        "--runs-dir",
        "out",
        "--json",
        cwd=folder,
    )
    return Run(folder, process)


def first_nonfinite_epoch(run_dir: Path) -> int:
    for row in read_history(run_dir):
        if not math.isfinite(float(row["loss"])):
            return int(row["epoch"])
    raise AssertionError("every epoch's loss in history.csv is finite")


def test_diverged_exit(diverged):
    assert diverged.process.returncode == 1, diverged.process.stderr
    assert "Traceback" not in diverged.process.stderr


def test_diverged_status(diverged):
    metrics = read_metrics(diverged.run_dir)
    assert metrics["status"] == "diverged"
    assert metrics["diverged_epoch"] == first_nonfinite_epoch(diverged.run_dir)
    assert (
        json.loads(diverged.process.stdout, parse_constant=float)["status"]
        == "diverged"
    )


def test_diverged_message(diverged):
    epoch = first_nonfinite_epoch(diverged.run_dir)
    stderr = diverged.process.stderr
    assert f"epoch {epoch}" in stderr
    assert "smaller learning rate" in stderr


def test_diverged_json_strict(diverged):
    def reject(constant):
        raise AssertionError(f"stdout contains {constant}, which is not valid JSON")

    printed = json.loads(diverged.process.stdout, parse_constant=reject)
    assert printed["final_loss"] is None


# Ctrl-C: SIGINT to a long run.


def test_sigint(tmp_path):
    raw = tiny_raw(training={"epochs": 1_000_000, "batch_size": 20, "shuffle": True})
    write_yaml(tmp_path / "long.yaml", raw)
    runs = tmp_path / "runs"

    # A POSIX shell without job control starts background commands with SIGINT ignored,
    # and a child inherits an ignored signal. A handled one resets to the default.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(
            cli_command("train", "long.yaml", "--runs-dir", "runs", "--quiet"),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        deadline = time.monotonic() + CLI_TIMEOUT_S
        while not list(runs.glob("*/metrics.json")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no run folder appeared"
            time.sleep(0.05)
        time.sleep(1.0)  # let some epochs finish
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=CLI_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted" in stderr
    run_dir = only_folder(runs)
    metrics = read_metrics(run_dir)
    assert metrics["status"] == "interrupted"
    rows = read_history(run_dir)
    assert len(rows) >= 1
    assert [int(row["epoch"]) for row in rows] == list(range(1, len(rows) + 1))
    assert metrics["epochs_completed"] == len(rows)
