"""What the committed chapter notebooks may hold (text outputs only, no rounding noise)
and what every chapter gives a course (learning goals, prerequisites, exercises with
solutions, where this leads)."""

import json
import os
import re
from pathlib import Path

import pytest
import torch

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "book").glob("*.ipynb"))
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "application/pdf")
# A number in scientific notation below 1e-6 (e.g. 2.3e-16) is rounding noise unless the
# line states it as a tolerance ("below 1e-12: True", "to 1e-8").
SCI = re.compile(r"\b\d(?:\.\d+)?e-(\d+)\b")
TOLERANCE_WORDS = ("below", "under", "tol", "to 1e", "<", "within", "at most")


def _outputs(path):
    nb = json.loads(path.read_text())
    for index, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            yield index, out


def test_chapters_exist():
    assert len(CHAPTERS) >= 6


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_committed_notebooks_carry_text_outputs_only(path):
    images = [
        i for i, out in _outputs(path) for m in IMAGE_MIMES if m in out.get("data", {})
    ]
    assert not images, (
        f"{path.name}: image outputs in cells {images}; execute chapters with "
        "`make execute` (scripts/execute_notebooks.py drops them)"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_code_cell_was_executed(path):
    """A stored chapter is one execution of all its cells (scripts/execute_notebooks.py,
    after scripts/add_install_cell.py): a cell without an execution count was edited
    afterwards, and nbval would not compare it."""
    nb = json.loads(path.read_text())
    never = [
        i
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and cell.get("execution_count") is None
    ]
    assert not never, f"{path.name}: code cells never executed: {never}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_rounding_noise_printed(path):
    bad = []
    for index, out in _outputs(path):
        text = out.get("text") or out.get("data", {}).get("text/plain", "")
        text = "".join(text) if isinstance(text, list) else text
        for line in text.splitlines():
            for m in SCI.finditer(line):
                if int(m.group(1)) > 6 and not any(w in line for w in TOLERANCE_WORDS):
                    bad.append((index, line.strip()))
    assert not bad, f"{path.name}: numbers below 1e-6 printed as values (noise?): {bad}"


# Every chapter's code cells fit 88 columns (ruff format, line length 88; a wider line
# scrolls sideways in the page) and every figure is numbered, captioned and cited.


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_code_cells_fit_88_columns(path):
    nb = json.loads(path.read_text())
    long = [
        (i, len(line))
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code"
        for line in "".join(cell["source"]).splitlines()
        if len(line) > 88
    ]
    assert not long, (
        f"{path.name}: (cell, length) of code lines over 88 characters: {long}"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_figure_is_numbered_and_referenced(path):
    """A cell that draws a figure carries mystnb figure metadata (name, caption), and
    the text refers to that name with {numref} (widget cells, which redraw, are
    exempt)."""
    nb = json.loads(path.read_text())
    text = "\n".join(
        "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"
    )
    for i, cell in enumerate(nb["cells"]):
        src = "".join(cell["source"])
        if cell["cell_type"] != "code" or "plt.show()" not in src or "def draw" in src:
            continue
        figure = cell["metadata"].get("mystnb", {}).get("figure", {})
        assert figure.get("name") and figure.get("caption"), (
            f"{path.name} cell {i}: no caption/name"
        )
        assert f"{{numref}}`{figure['name']}`" in text, (
            f"{path.name}: {figure['name']} never cited"
        )


EXERCISE = re.compile(r"^`{3,}\{exercise\}[^\n]*\n:label: ([\w-]+)", re.M)
SOLUTION = re.compile(r"^`{3,}\{solution(?:-start)?\} ([\w-]+)", re.M)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_is_teachable(path):
    """Learning goals and prerequisites up front, a "Where this leads" section, and at
    least three exercises, each with a worked solution (issue 14)."""
    nb = json.loads(path.read_text())
    text = "\n".join(
        "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"
    )
    assert "**Learning goals.**" in text and "**Prerequisites.**" in text, path.name
    assert "\n## Where this leads\n" in text, path.name
    exercises = EXERCISE.findall(text)
    assert len(exercises) >= 3, f"{path.name}: {len(exercises)} exercises"
    missing = set(exercises) - set(SOLUTION.findall(text))
    assert not missing, f"{path.name}: exercises without a solution: {sorted(missing)}"


def test_second_kernel_set_is_really_in_force():
    """Under `make portable` the portable ATen kernels must really be the ones run."""
    if os.environ.get("ATEN_CPU_CAPABILITY") != "default":
        pytest.skip("runs under the second kernel set (make portable)")
    assert torch.backends.cpu.get_cpu_capability().lower() == "default"
    assert os.environ.get("MKL_CBWR") == "COMPATIBLE"
