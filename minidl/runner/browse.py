"""Read run folders back: list them newest first, or gather one run's files.

Each command writes one result file into its folder: train writes metrics.json,
repeat summary.json and compare compare.json. Each result file is a JSON object
with "command", "config" and "status". A folder that breaks these rules is still
listed, and no error is raised:

- "incomplete": the folder has config.yaml but no result file yet, as when a
  process was killed before writing one;
- "unreadable": the folder is empty, holds only other files, or its result
  file is not a JSON object with a "status" string.

A folder whose run stopped early lists with the status it recorded: "running"
(still running, or killed), "interrupted" (Ctrl-C) or "failed" (an error).

Order: newest first by the start time in the folder name (YYYYMMDD-HHMMSS, to
the second). A name without that time counts as started at the folder's
modification time. Ties go to the later modification time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

RESULT_FILES = {
    "metrics.json": "train",
    "summary.json": "repeat",
    "compare.json": "compare",
}
INCOMPLETE = "incomplete"
UNREADABLE = "unreadable"
UNKNOWN = "-"

STAMP_FORMAT = "%Y%m%d-%H%M%S"
FOLDER_NAME = re.compile(r"(?P<stamp>\d{8}-\d{6})-(?P<command>[a-z]+)-(?P<config>.+)")


class RunNotFound(LookupError):
    """A run named on the command line matches no folder."""


@dataclass
class RunEntry:
    """One row of the listing. Errors are fractions; None where a run has none.

    For a repeat, train_error and test_error are the means over its completed
    runs and the *_std fields their sample standard deviations.
    """

    id: str
    path: Path
    started: datetime
    command: str = UNKNOWN
    config: str = UNKNOWN
    status: str = UNREADABLE
    train_error: float | None = None
    test_error: float | None = None
    train_error_std: float | None = None
    test_error_std: float | None = None
    seconds: float | None = None
    problem: str | None = None  # why the folder is incomplete or unreadable
    modified: float = field(default=0.0, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": str(self.path),
            "started": self.started.isoformat(),
            "command": self.command,
            "config": self.config,
            "status": self.status,
            "train_error": self.train_error,
            "test_error": self.test_error,
            "train_error_std": self.train_error_std,
            "test_error_std": self.test_error_std,
            "seconds": self.seconds,
            "problem": self.problem,
        }


@dataclass
class RunDetails:
    """One run's files: its listing entry, config, result and figures."""

    entry: RunEntry
    config_text: str | None  # config.yaml as written; None when missing
    config: Any  # config.yaml parsed; None when missing or not YAML
    result_file: str | None  # the name of the result file, when there is one
    result: Any  # the result file parsed; None when missing or not JSON
    figures: list[Path]

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.entry.to_json(),
            "config": self.config,
            "result_file": self.result_file,
            "result": self.result,
            "figures": [str(path) for path in self.figures],
        }


def list_runs(runs_dir: str | Path) -> list[RunEntry]:
    """List every folder under runs_dir as a RunEntry, newest first ([] when absent).

    Hidden folders and plain files are not runs and are left out. An OSError
    from reading runs_dir itself propagates.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.exists():
        return []
    folders = [
        path
        for path in runs_dir.iterdir()
        if path.is_dir() and not path.name.startswith(".")
    ]
    entries = [read_entry(folder) for folder in folders]
    return sorted(entries, key=lambda e: (e.started, e.modified), reverse=True)


def find_run(runs_dir: str | Path, run: str) -> Path:
    """Return the folder of RUN: a folder name under runs_dir, else a folder path."""
    for candidate in (Path(runs_dir) / run, Path(run)):
        if candidate.is_dir():
            return candidate
    raise RunNotFound(
        f"run {run!r} not found: no folder {Path(runs_dir) / run} and no folder {run}"
    )


def read_entry(folder: Path) -> RunEntry:
    """Summarise one run folder; a broken folder gives a status, never an exception."""
    result_file, result = _load_result(folder)
    return _entry(folder, result_file, result)


def read_run(folder: Path) -> RunDetails:
    """Gather one run folder's entry, config, result and figures (*.png, by name)."""
    result_file, result = _load_result(folder)
    config_text = _read_text(folder / "config.yaml")
    return RunDetails(
        entry=_entry(folder, result_file, result),
        config_text=config_text,
        config=_parse_yaml(config_text),
        result_file=None if result_file is None else result_file.name,
        result=result if isinstance(result, dict) else None,
        figures=sorted(folder.glob("*.png")),
    )


def _load_result(folder: Path) -> tuple[Path | None, Any]:
    """Read the folder's result file: its path and content, or the error raised."""
    for name in RESULT_FILES:
        path = folder / name
        if not path.is_file():
            continue
        try:
            return path, json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:  # ValueError: not JSON, not UTF-8
            return path, error
    return None, None


def _entry(folder: Path, result_file: Path | None, result: Any) -> RunEntry:
    entry = _entry_from_name(folder)
    if result_file is None:
        if (folder / "config.yaml").is_file():
            entry.status = INCOMPLETE
        entry.problem = f"no result file ({', '.join(RESULT_FILES)})"
    elif isinstance(result, Exception):
        entry.problem = f"{result_file.name}: {result}"
    elif not isinstance(result, dict) or not isinstance(result.get("status"), str):
        entry.problem = (
            f"{result_file.name}: expected a JSON object with a 'status' string"
        )
    else:
        _fill_from_result(entry, result_file.name, result)
    return entry


def _entry_from_name(folder: Path) -> RunEntry:
    """Start an entry from the folder name and modification time alone."""
    try:
        modified = folder.stat().st_mtime
    except OSError:
        modified = 0.0
    entry = RunEntry(
        id=folder.name,
        path=folder,
        started=datetime.fromtimestamp(modified),
        modified=modified,
    )

    named = FOLDER_NAME.fullmatch(folder.name)
    if named is not None:
        try:
            entry.started = datetime.strptime(named["stamp"], STAMP_FORMAT)
        except ValueError:  # digits that are no date, such as month 13
            return entry
        entry.command = named["command"]
        entry.config = named["config"]
    return entry


def _fill_from_result(entry: RunEntry, file_name: str, result: dict) -> None:
    """Copy the command, config, status, errors and time from a parsed result file."""
    command = result.get("command")
    entry.command = command if isinstance(command, str) else RESULT_FILES[file_name]
    config = result.get("config")
    if isinstance(config, str):
        entry.config = Path(config).name
    entry.status = result["status"]
    entry.seconds = _number(result.get("seconds"))

    if entry.command == "train":
        entry.train_error = _number(result.get("train_error"))
        entry.test_error = _number(result.get("test_error"))
    elif entry.command == "repeat":
        entry.train_error, entry.train_error_std = _mean_std(result.get("train_error"))
        entry.test_error, entry.test_error_std = _mean_std(result.get("test_error"))


def _mean_std(statistics: Any) -> tuple[float | None, float | None]:
    if not isinstance(statistics, dict):
        return None, None
    return _number(statistics.get("mean")), _number(statistics.get("std"))


def _number(value: Any) -> float | None:
    """value as a float when it is a JSON number, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None


def _parse_yaml(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None
