"""The whole-book PDF (``make pdf``): every page of the toc printed, in order, with its
title.

Built here from ``_build/html`` by ``scripts/build_pdf.py`` (headless Chromium,
offline). Without a built book or without Chromium the test skips, unless
``MMCL_BROWSER_TEST=required`` (as in ``make test``), where that is a failure."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import unicodedata
from pathlib import Path

import pytest

import browser_check as bc

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"
REQUIRED = os.environ.get("MMCL_BROWSER_TEST") == "required"


def _load_builder():
    spec = importlib.util.spec_from_file_location(
        "build_pdf", ROOT / "scripts" / "build_pdf.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _title(source: Path) -> str:
    """The first '# ' heading of a chapter (.ipynb or .md)."""
    if source.suffix == ".ipynb":
        cells = json.loads(source.read_text())["cells"]
        text = "\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "markdown"
        )
    else:
        text = source.read_text()
    return re.search(r"^# (.+)$", text, re.M).group(1).strip()


def _normal(text: str) -> str:
    """Ligatures unfolded, dashes, typographic apostrophes and spaces made plain, case
    folded (LaTeX sets a title's ' as a right single quote)."""
    text = (
        unicodedata.normalize("NFKC", text)
        .replace("\u2013", "-")
        .replace("\u2014", "-")
        .replace("\u2019", "'")
        .replace("\u2018", "'")
    )
    return re.sub(r"\s+", " ", text).casefold()


@pytest.fixture(scope="module")
def book_pdf(tmp_path_factory):
    if not (SITE / "index.html").is_file() or bc.find_chromium() is None:
        (pytest.fail if REQUIRED else pytest.skip)(
            "needs the built book in _build/html (`make book`) and Chromium"
        )
    builder = _load_builder()
    target = tmp_path_factory.mktemp("pdf") / "book.pdf"
    pages = builder.build_pdf(SITE, target)
    return builder, target, pages


def test_pdf_has_every_chapter_in_toc_order(book_pdf):
    from pypdf import PdfReader

    builder, target, n_pages = book_pdf
    reader = PdfReader(target)
    assert len(reader.pages) == n_pages
    toc = builder.toc_pages()
    # every toc page starts on a new PDF page and a chapter takes more than one page
    assert n_pages > 2 * len(toc), f"only {n_pages} pages for {len(toc)} toc entries"
    outline = [item.title for item in reader.outline]
    assert len(outline) == len(toc)
    starts = [reader.get_destination_page_number(item) for item in reader.outline]
    assert starts == sorted(starts) and len(set(starts)) == len(starts), starts
    text = _normal(" ".join(page.extract_text() or "" for page in reader.pages))
    for page in toc:
        stem = ROOT / Path(page).with_suffix("")
        source = next(
            p
            for p in (stem.with_suffix(".ipynb"), stem.with_suffix(".md"))
            if p.exists()
        )
        title = _title(source)
        assert _normal(title) in text, (
            f"the title {title!r} of {source.name} is not in the PDF"
        )
