"""`pubwatch …` works as the README shows once `make venv` has installed the project (#17.1)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_declares_the_console_script():
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["scripts"]["pubwatch"] == "pubwatch.cli:main"
    assert "-e ." in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_pubwatch_command_runs_from_any_folder_without_pythonpath(tmp_path):
    script = Path(sys.executable).with_name("pubwatch")
    if not script.exists():
        pytest.fail("the pubwatch command is not installed in this venv: run `make venv`")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(script), "calendar", "2026-10-01"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"week": "2026-W40"' in done.stdout and '"reminder_day": "2026-09-30"' in done.stdout
