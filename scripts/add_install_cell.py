"""Give every chapter notebook a first cell that installs mmcl when it is missing (Colab, Binder).

Usage: python scripts/add_install_cell.py [book/*.ipynb ...]   (default: every book/*.ipynb)

Idempotent: the cell is recognised by its id (``install-mmcl``) and rewritten in place, so running
the script again after a chapter is added or the cell text changes is safe. The cell
* is a no-op wherever ``import mmcl`` works (the book build, CI, a local `make` environment);
* is tagged ``nbval-skip`` (nbval never runs it) and ``remove-cell`` (the HTML pages hide it);
* installs the package from the repository named in ``_config.yml`` (``repository.url``) otherwise.
Only that one cell changes; the other cells and their stored outputs are left as they are.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
CELL_ID = "install-mmcl"
TAGS = ["nbval-skip", "remove-cell"]


def install_source(repo_url: str) -> str:
    return (
        "# Colab / Binder: install the book's package when it is missing (a no-op where it is installed)\n"
        "try:\n"
        "    import mmcl  # noqa: F401\n"
        "except ImportError:\n"
        f'    %pip install --quiet "mmcl @ git+{repo_url.rstrip("/")}"'
    )


def add_install_cell(path: Path, source: str) -> bool:
    """Insert or refresh the install cell of one notebook; returns True when the file changed."""
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.get("id") != CELL_ID]
    cell = nbformat.v4.new_code_cell(source, id=CELL_ID, metadata={"tags": list(TAGS)})
    new = [cell] + cells
    if (
        [c.get("id") for c in nb.cells] == [c.get("id") for c in new]
        and nb.cells[0].source == source
        and nb.cells[0].metadata.get("tags") == TAGS
    ):
        return False
    nb.cells = new
    if nb.nbformat_minor < 5:  # cell ids need nbformat 4.5
        nb.nbformat_minor = 5
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return True


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or sorted((ROOT / "book").glob("*.ipynb"))
    repo_url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    source = install_source(repo_url)
    for path in paths:
        print(
            f"{path}: {'install cell written' if add_install_cell(path, source) else 'unchanged'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
