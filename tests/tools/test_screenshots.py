"""tools/screenshots.py refuses what it cannot do before it starts anything."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "tools" / "screenshots.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_an_unknown_view_is_named_with_the_ones_that_exist():
    result = run("--only", "search,nope")
    assert result.returncode == 2
    assert "unknown views: nope" in result.stderr and "kedro-viz" in result.stderr


def test_a_project_without_a_registry_says_to_run_the_pipeline(tmp_path):
    result = run("--project", str(tmp_path), "--out", str(tmp_path / "images"))
    assert result.returncode == 1
    assert "run `make pipeline` first" in result.stderr
    assert not (tmp_path / "images").exists()
