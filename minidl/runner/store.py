"""Run folders: one new folder per run, files written atomically, and a status.

A run folder is created only after its config is valid. Its metrics file starts
as status "running" and ends as "completed", "diverged", "interrupted" or
"failed", so a folder left by a killed process still reads as unfinished.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

RUNNING = "running"
INTERRUPTED = "interrupted"
FAILED = "failed"


def create_run_dir(runs_dir: str | Path, command: str, config_path: str | Path) -> Path:
    """Make a new, never-before-used folder named time-command-config under runs_dir."""
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    config_name = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(config_path).stem)
    base = f"{stamp}-{command}-{config_name}"
    for attempt in range(10_000):
        name = base if attempt == 0 else f"{base}-{attempt + 1}"
        try:
            (runs_dir / name).mkdir()
        except FileExistsError:
            continue
        return runs_dir / name
    raise RuntimeError(f"no free run folder name under {runs_dir} for {base}")


def write_text(path: Path, text: str) -> None:
    """Write a UTF-8 text file atomically, with line endings as given."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old content or the new, never a part.

    The data goes to a hidden temporary file in the same folder, which then
    replaces path; on any failure the temporary file is removed.
    """
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        os.chmod(
            temporary, 0o666 & ~_umask()
        )  # mkstemp creates files readable by the owner only
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_text(path, json.dumps(to_json_safe(data), indent=2) + "\n")


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def to_json_safe(value: Any) -> Any:
    """Replace NaN and infinities, which strict JSON lacks, by null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: to_json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_safe(item) for item in value]
    return value
