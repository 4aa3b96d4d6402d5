"""Lint as a test: ruff (pinned in requirements.txt, configured in pyproject.toml, line
length 88) finds nothing in the package, the tests, the scripts, the benchmark and the
chapters' code cells (ruff reads .ipynb), and their formatting is ruff's."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["mmcl", "tests", "scripts", "benchmarks", "book"]


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *PATHS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("command", [("check",), ("format", "--check")])
def test_ruff(command):
    out = ruff(*command)
    assert out.returncode == 0, out.stdout + out.stderr
