"""Run folders and files: atomic writes, never-reused folders, strict JSON."""

from __future__ import annotations

import json
import math
import os
from datetime import datetime

import pytest

from minidl.runner import store
from minidl.runner.store import create_run_dir, to_json_safe, write_json, write_text


class FrozenClock(datetime):
    """A datetime whose now() never moves: every run starts in the same second."""

    @classmethod
    def now(cls, tz=None):
        return cls(2024, 1, 2, 3, 4, 5)


@pytest.fixture
def frozen_clock(monkeypatch):
    monkeypatch.setattr(store, "datetime", FrozenClock)


def test_write_text_replaces(tmp_path):
    path = tmp_path / "notes.txt"
    write_text(path, "old\n")
    write_text(path, "new\n")
    assert path.read_text(encoding="utf-8") == "new\n"
    assert os.listdir(tmp_path) == ["notes.txt"]


def fail_replace(source, target):
    raise OSError("disk full")


@pytest.mark.parametrize("failure", ["encode", "replace"])
def test_write_text_atomic(tmp_path, monkeypatch, failure):
    path = tmp_path / "metrics.json"
    path.write_text("old content\n", encoding="utf-8")
    text = "new content\n"
    if failure == "encode":
        text += "\ud800"  # a lone surrogate: UTF-8 cannot encode it
        expected = UnicodeEncodeError
    else:
        monkeypatch.setattr(os, "replace", fail_replace)
        expected = OSError

    with pytest.raises(expected):
        write_text(path, text)
    assert path.read_text(encoding="utf-8") == "old content\n"
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_write_text_new_file_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", fail_replace)
    with pytest.raises(OSError):
        write_text(tmp_path / "history.csv", "epoch\n")
    assert os.listdir(tmp_path) == []


def test_run_dir_same_second(tmp_path, frozen_clock):
    folders = [
        create_run_dir(tmp_path / "runs", "train", "tiny.yaml") for _ in range(5)
    ]
    assert len(set(folders)) == 5
    for folder in folders:
        assert folder.is_dir()
        assert folder.parent == tmp_path / "runs"
        assert list(folder.iterdir()) == []


def test_run_dir_not_reused(tmp_path, frozen_clock):
    first = create_run_dir(tmp_path, "train", "tiny.yaml")
    (first / "metrics.json").write_text("{}", encoding="utf-8")
    second = create_run_dir(tmp_path, "train", "tiny.yaml")
    assert second != first
    assert os.listdir(first) == ["metrics.json"]
    assert os.listdir(second) == []


def test_run_dir_other_config(tmp_path, frozen_clock):
    # Names built from different configs in the same second stay apart as well.
    folders = {
        create_run_dir(tmp_path, "train", name)
        for name in ["a b.yaml", "a_b.yaml", "sub/a b.yml", "a b.yaml"]
    }
    assert len(folders) == 4


def test_run_dir_names(tmp_path):
    folder = create_run_dir(tmp_path / "deep" / "runs", "train", "configs/disk.yaml")
    assert folder.parent == tmp_path / "deep" / "runs"
    assert "train" in folder.name
    assert "disk" in folder.name


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_json_safe_scalar(value):
    assert to_json_safe(value) is None


def test_json_safe_nested():
    data = {
        "loss": math.nan,
        "rows": [[1, math.inf], (2.5, -math.inf)],
        "inner": {"error": 0.25, "seed": 3, "status": "diverged", "none": None},
    }
    expected = {
        "loss": None,
        "rows": [[1, None], [2.5, None]],
        "inner": {"error": 0.25, "seed": 3, "status": "diverged", "none": None},
    }
    assert to_json_safe(data) == expected
    json.dumps(to_json_safe(data), allow_nan=False)


def test_write_json_strict(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"final_loss": math.nan, "test_error": 0.5})

    def reject(constant):
        raise AssertionError(constant)

    loaded = json.loads(path.read_text(encoding="utf-8"), parse_constant=reject)
    assert loaded == {"final_loss": None, "test_error": 0.5}
