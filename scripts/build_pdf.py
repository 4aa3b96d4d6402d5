"""The whole book as one PDF, built offline from the HTML book by the tests' headless
Chromium.

Usage: python scripts/build_pdf.py [_build/html] [_build/pdf/book.pdf]

Every page of ``_toc.yml`` (the root first, then the chapters in order) is loaded from a
local server in the same cut-off browser as the browser test
(``tests/browser_check.py``: no request leaves 127.0.0.1), left to settle (MathJax
typeset, images loaded) and printed to PDF with Playwright's ``page.pdf``; the pieces
are merged in toc order by pypdf, with one bookmark per page titled by the page's first
heading. Widgets print their first state, as in the static pages."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(
    0, str(ROOT / "tests")
)  # the browser test's offline server and browser flags
import browser_check as bc  # noqa: E402

PDF_OPTIONS = dict(
    format="A4",
    print_background=True,
    prefer_css_page_size=False,
    margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"},
)


def toc_pages(toc_file: Path = ROOT / "_toc.yml") -> list[str]:
    """The book's HTML pages in reading order (paths relative to the HTML root)."""
    toc = yaml.safe_load(Path(toc_file).read_text())
    files = [toc["root"]] + [
        c["file"]
        for part in [toc] + toc.get("parts", [])
        for c in part.get("chapters", [])
    ]
    return [f"{Path(f).with_suffix('')}.html" for f in files]


def print_pages(
    site: Path, pages: list[str], *, timeout_ms: int = 180000
) -> list[tuple[str, bytes]]:
    """Print each page of ``site`` to PDF; returns (title, pdf bytes) pairs in order."""
    from playwright.sync_api import sync_playwright

    executable = bc.find_chromium()
    if executable is None:
        raise RuntimeError(
            "Chromium not found: install Debian's chromium (`make chromium`) "
            "or set MMCL_CHROMIUM"
        )
    out = []
    with (
        bc._Serve(bc._Sinkhole()) as sinkhole,
        bc.serve_site(site) as server,
        sync_playwright() as p,
    ):
        base = f"http://127.0.0.1:{server.server_port}"
        browser = p.chromium.launch(
            executable_path=executable,
            headless=True,
            args=bc.browser_args(sinkhole.server_address[1]),
        )
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900}, service_workers="block"
            )
            page = context.new_page()
            page.route(
                "**/*",
                lambda r: (
                    r.continue_()
                    if r.request.url.startswith(base + "/")
                    or r.request.url.startswith(("data:", "blob:", "about:"))
                    else r.abort("blockedbyclient")
                ),
            )
            for name in pages:
                if not (site / name).is_file():
                    raise FileNotFoundError(
                        f"{site / name} is missing: build the book first"
                    )
                page.goto(f"{base}/{name}", wait_until="load", timeout=timeout_ms)
                page.evaluate(bc.SETTLE_JS)  # MathJax typeset, images and fonts loaded
                page.emulate_media(media="print")
                title = page.evaluate(
                    "() => (document.querySelector('h1') || {}).textContent"
                    " || document.title"
                )
                out.append((title.replace("#", "").strip(), page.pdf(**PDF_OPTIONS)))
                page.emulate_media(media="screen")
        finally:
            browser.close()
    return out


def merge(pieces: list[tuple[str, bytes]], target: Path) -> int:
    """Concatenate PDF pieces into ``target``, one bookmark each; returns its pages."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for title, data in pieces:
        start = len(writer.pages)
        writer.append(PdfReader(io.BytesIO(data)))
        writer.add_outline_item(title=title, page_number=start)
    writer.add_metadata({"/Title": pieces[0][0] if pieces else "book"})
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as fh:
        writer.write(fh)
    return len(writer.pages)


def build_pdf(
    site: Path = ROOT / "_build" / "html",
    target: Path = ROOT / "_build" / "pdf" / "book.pdf",
) -> int:
    """Print the book in ``site`` to ``target`` in toc order; returns its page count."""
    return merge(print_pages(Path(site), toc_pages()), Path(target))


def main(argv: list[str]) -> int:
    site = Path(argv[0]) if argv else ROOT / "_build" / "html"
    target = Path(argv[1]) if len(argv) > 1 else ROOT / "_build" / "pdf" / "book.pdf"
    pages = build_pdf(site, target)
    print(f"The book is printed: {target} ({pages} pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
