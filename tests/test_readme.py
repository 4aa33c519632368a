"""The README's commands, run as a newcomer would run them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import CLI_TIMEOUT_S, REPO, run_folders

README = (REPO / "README.md").read_text(encoding="utf-8")


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_readme_quick_start_commands():
    setup_and_train, setup_and_test = code_blocks("bash")[:2]

    assert setup_and_train.strip().endswith("minidl train configs/disk.yaml")
    assert "pip install -e ." in setup_and_train
    assert "pytest" in setup_and_test
    ci_script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert setup_and_test.strip() in ci_script


def test_readme_quick_start_train_runs(tmp_path: Path):
    """The quick start's last step in a fresh folder: the console script, default runs/."""
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    minidl = Path(sys.executable).parent / "minidl"
    result = subprocess.run(  # noqa: PLW1510 - the return code is asserted below
        [str(minidl), "train", "configs/disk.yaml", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )

    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["status"] == "completed"
    assert metrics["test_error"] < 0.06
    assert len(run_folders(tmp_path / "runs")) == 1


def test_readme_python_example_runs(tmp_path: Path):
    (example,) = code_blocks("python")
    script = tmp_path / "example.py"
    script.write_text(example, encoding="utf-8")
    result = subprocess.run(  # noqa: PLW1510 - the return code is asserted below
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )

    assert result.returncode == 0, result.stderr
    assert "Linear(in_features=2, out_features=25, bias=True)" in result.stdout
    test_error = float(re.search(r"test error ([0-9.]+)%", result.stdout).group(1))
    assert test_error < 6.0
