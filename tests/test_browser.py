"""The published book as a reader sees it: every page of ``_build/html`` in headless
Chromium, offline.

``make test`` builds the book first and sets ``MMCL_BROWSER_TEST=required``: then a
missing build or a missing Chromium is a failure; run alone (``pytest tests``) these
tests skip without them. The checks themselves live in ``browser_check.py``. Besides the
book, a one-page fixture book with a widget (``tests/browser_fixture/``, built here with
the book's own ``_config.yml``) shows that widgets render offline, and mutated copies
show that the check fails when a page is broken.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

import browser_check as bc

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
FIXTURE = Path(__file__).resolve().parent / "browser_fixture"
REQUIRED = os.environ.get("MMCL_BROWSER_TEST") == "required"
PAGES = bc.site_pages(SITE) if (SITE / "index.html").is_file() else ["(book not built)"]


def _unavailable(reason: str):
    (pytest.fail if REQUIRED else pytest.skip)(reason)


@pytest.fixture(scope="module")
def chromium():
    if bc.find_chromium() is None:
        _unavailable(
            "Chromium is not installed (`make test` installs Debian's chromium)"
        )


@pytest.fixture(scope="module")
def book_report(chromium):
    if not (SITE / "index.html").is_file():
        _unavailable("the book is not built in _build/html (run `make book`)")
    shutil.rmtree(SHOTS, ignore_errors=True)
    report = bc.check_site(SITE, screenshot_dir=SHOTS)
    if report.retried:  # passed on a second load: say so in the test summary
        warnings.warn(f"pages that needed a second load: {report.retried}")
    return report


@pytest.mark.parametrize("page", PAGES)
def test_book_page_renders_offline(book_report, page):
    problems = book_report.problems[page]
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


def test_every_toc_page_is_checked_and_photographed(book_report):
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [
        c["file"]
        for part in [toc] + toc.get("parts", [])
        for c in part.get("chapters", [])
    ]
    for f in files:
        page = f"{Path(f).with_suffix('')}.html"
        assert page in book_report.problems, f"{page} was not loaded"
        assert (SHOTS / (page.replace("/", "__")[:-5] + ".png")).is_file()


# --- the fixture book: a formula, a figure and a widget, built with the book's
# configuration ---


@pytest.fixture(scope="module")
def fixture_site(chromium, tmp_path_factory):
    """Build tests/browser_fixture/ with the book's _config.yml (not executing: outputs
    are stored)."""
    src = tmp_path_factory.mktemp("fixture_book")
    shutil.copytree(FIXTURE, src, dirs_exist_ok=True)
    shutil.copytree(
        ROOT / "_static", src / "_static", dirs_exist_ok=True
    )  # the book's CSS
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config.update(
        title="Browser-test fixture",
        bibtex_bibfiles=[str(ROOT / "book" / "references.bib")],
    )
    config["execute"]["execute_notebooks"] = "off"
    config["sphinx"]["local_extensions"] = {
        name: str(ROOT / path)
        for name, path in config["sphinx"]["local_extensions"].items()
    }
    (src / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    jb = Path(sys.executable).with_name("jupyter-book")
    run = subprocess.run(
        [str(jb), "build", str(src), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return src / "_build" / "html"


def test_fixture_widget_formula_and_figure_render_offline(fixture_site):
    html = (fixture_site / "widget_page.html").read_text()
    assert (
        "application/vnd.jupyter.widget-view+json" in html
    )  # the page really has a widget
    assert 'class="math' in html and "<img" in html
    report = bc.check_site(fixture_site, ["widget_page.html"])
    assert report.problems == {"widget_page.html": []}


FORMULA = ("MathJax error", "raw TeX in the text", "not typeset")
# page -> (how the fixture page is broken, what the check must say: one of these)
MUTATIONS = {
    "tex_error.html": (lambda h: h.replace(r"\frac{1}{n}", r"\frac{1}", 1), FORMULA),
    "unbalanced_brace.html": (
        lambda h: h.replace(r"\frac{1}{n}", r"\frac{1}{n", 1),
        FORMULA,
    ),
    "raw_dollars.html": (
        lambda h: h.replace("<h2>", "<p>An unclosed $$ x^2 formula.</p><h2>", 1),
        FORMULA,
    ),
    "missing_image.html": (
        lambda h: re.sub(
            r'(<img[^>]*src=")_images/[^"]+"', r'\1_images/missing.png"', h, count=1
        ),
        "image not loaded",
    ),
    "empty_widget.html": (
        lambda h: re.sub(
            r'<script type="application/vnd.jupyter.widget-state\+json">'
            r".*?</script>",
            "",
            h,
            flags=re.S,
        ),
        "left empty",
    ),
    "outside_request.html": (
        lambda h: h.replace(
            "</head>",
            '<script src="https://cdn.jsdelivr.net/npm/left-pad@1.3.0/index.js"></script></head>',
        ),
        "request outside the site",
    ),
    "broken_link.html": (
        lambda h: h.replace("<h2>", '<p><a href="no_such_page.html">x</a></p><h2>', 1),
        "broken internal link",
    ),
    "broken_anchor.html": (
        lambda h: h.replace("<h2>", '<p><a href="#no-such-label">x</a></p><h2>', 1),
        "no anchor #no-such-label",
    ),
    "console_error.html": (
        lambda h: h.replace("</body>", "<script>console.error('boom')</script></body>"),
        "console error: boom",
    ),
    # a display formula of 80 terms and a code line of 240 characters: both wider than
    # the column
    "wide_formula.html": (
        lambda h: h.replace(
            r"\frac{1}{n}\Big[",
            r"\frac{1}{n}" + " + ".join(f"x_{{{k}}}" for k in range(80)) + r"\Big[",
            1,
        ),
        "display formula wider than its column",
    ),
    "wide_code.html": (
        lambda h: h.replace(
            "<pre><span></span>", "<pre><span></span>x = " + "1 + " * 60 + "1\n", 1
        ),
        "code block wider than its column",
    ),
}


@pytest.fixture(scope="module")
def mutated_report(fixture_site):
    html = (fixture_site / "widget_page.html").read_text()
    for page, (mutate, _) in MUTATIONS.items():
        broken = mutate(html)
        assert broken != html, f"the mutation for {page} changed nothing"
        (fixture_site / page).write_text(broken)
    return bc.check_site(fixture_site, list(MUTATIONS))


@pytest.mark.parametrize("page", list(MUTATIONS))
def test_check_fails_on_a_broken_page(mutated_report, page):
    problems = mutated_report.problems[page]
    expected = MUTATIONS[page][1]
    expected = (expected,) if isinstance(expected, str) else expected
    assert any(e in p for p in problems for e in expected), (
        f"{page}: expected {expected} in {problems}"
    )


def test_outside_request_never_reaches_the_network(fixture_site):
    """With the page-level block off, the request is stopped by the browser's cut-off
    instead."""
    page = fixture_site / "outside_image.html"
    page.write_text(
        (fixture_site / "widget_page.html")
        .read_text()
        .replace(
            "<h2>", '<img src="http://example.org/pixel.png" alt="outside"><h2>', 1
        )
    )
    report = bc.check_site(fixture_site, [page.name], block_outside=False)
    assert any(
        "request outside the site: http://example.org/pixel.png" in p
        for p in report.problems[page.name]
    )
    assert any("example.org/pixel.png" in hit for hit in report.cut_off), report.cut_off


def test_a_broken_chapter_fails(book_report, tmp_path):
    """A chapter of the real book, given a broken formula or a missing figure, fails the
    check."""
    chapters = sorted(p for p in SITE.glob("book/[0-9]*.html"))
    if not chapters:
        _unavailable("the built book has no chapter page")
    site = tmp_path / "html"
    shutil.copytree(SITE, site)
    html = chapters[0].read_text()
    formula = html.replace(
        "<h2>", r'<div class="math notranslate nohighlight">\[\frac{1}{n\]</div><h2>', 1
    )
    figure = re.sub(
        r'(<img[^>]*src=")\.\./_images/[^"]+"',
        r'\1../_images/missing.png"',
        html,
        count=1,
    )
    assert formula != html and figure != html, "the chapter has no section or no figure"
    (site / "book" / "zz_broken_formula.html").write_text(formula)
    (site / "book" / "zz_missing_figure.html").write_text(figure)
    report = bc.check_site(
        site, ["book/zz_broken_formula.html", "book/zz_missing_figure.html"]
    )
    assert any(
        e in p for p in report.problems["book/zz_broken_formula.html"] for e in FORMULA
    )
    assert any(
        "image not loaded" in p for p in report.problems["book/zz_missing_figure.html"]
    )


class _FakePage:
    """A Playwright page in the network-quiet wait: time passes per call."""

    def __init__(self, pending: dict, finish_after_ms: int | None):
        self.pending, self.finish_after_ms, self.now = pending, finish_after_ms, 0

    def wait_for_timeout(self, ms):
        self.now += ms
        if self.finish_after_ms is not None and self.now >= self.finish_after_ms:
            self.pending.clear()


def test_network_wait_names_the_request_that_never_finishes():
    pending = {object(): "http://127.0.0.1/_static/stuck.woff"}
    with pytest.raises(TimeoutError, match="stuck.woff"):
        bc._wait_network_quiet(_FakePage(pending, None), pending, timeout_ms=2000)


def test_network_wait_returns_once_quiet_for_half_a_second():
    pending = {object(): "http://127.0.0.1/slow.png"}
    page = _FakePage(pending, finish_after_ms=1200)
    bc._wait_network_quiet(page, pending, timeout_ms=5000)
    assert 1200 + bc.QUIET_MS <= page.now <= 1200 + bc.QUIET_MS + 100
