"""Load every page of a built HTML book in headless Chromium, offline, and list what a reader would
see broken.

The site is served on 127.0.0.1 by a throw-away HTTP server. The browser is cut off from everything
else twice over: every request whose origin is not the site's is aborted by the page (and reported),
and Chromium itself is started with a proxy that is a local sinkhole (it records what reaches it and
refuses it) and a host resolver that resolves nothing, so a request that escaped the first net
(a worker, a prefetch) can neither reach the network nor go unnoticed.

For every page it reports: console errors and uncaught exceptions; failed requests and HTTP errors;
requests outside the site; formulas MathJax did not typeset (``.math`` elements without output,
MathJax errors, raw ``$$``, ``\\(``, ``\\[``, ``\\begin{`` left in the text); images not loaded;
widget areas left empty; display formulas and code blocks wider than their column (the reader
would scroll sideways); links to a page, file or anchor of the site that does not exist. It saves
one screenshot per page. Usage: ``python tests/browser_check.py _build/html [screenshot_dir]``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import socketserver
import sys
import threading
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

CHROMIUM_CANDIDATES = (
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
)
WIDGET_VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]'
WIDGET_STATE = 'script[type="application/vnd.jupyter.widget-state+json"]'
REDIRECT = re.compile(r'<meta http-equiv="refresh"[^>]*url=([^"]+)"', re.I)


def find_chromium() -> str | None:
    """Path of the Chromium binary (``$MMCL_CHROMIUM`` first, then Debian's locations)."""
    for candidate in (
        os.environ.get("MMCL_CHROMIUM"),
        *CHROMIUM_CANDIDATES,
        shutil.which("chromium"),
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def site_pages(root: Path) -> list[str]:
    """Every HTML page of the site (paths relative to ``root``), leaving out its asset folders."""
    root = Path(root)
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.html")
        if not any(part.startswith("_") for part in p.relative_to(root).parts[:-1])
    )


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


class _Sinkhole(socketserver.ThreadingTCPServer):
    """The browser's proxy: records the first line of every request that reaches it, refuses it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        self.hits: list[str] = []

        class Handler(socketserver.StreamRequestHandler):
            def handle(inner):
                line = inner.rfile.readline(4096).decode("latin-1").strip()
                if line:
                    self.hits.append(line)
                inner.wfile.write(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )

        super().__init__(("127.0.0.1", 0), Handler)


class _Serve:
    """Run a threaded server in the background for the duration of a ``with`` block."""

    def __init__(self, server):
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self.server

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def serve_site(root: Path) -> _Serve:
    """An HTTP server for ``root`` on 127.0.0.1 (a free port); ``server.server_port`` tells which."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    return _Serve(ThreadingHTTPServer(("127.0.0.1", 0), handler))


def browser_args(proxy_port: int) -> list[str]:
    """Chromium's flags: headless-friendly, no background traffic, every non-loopback host cut off."""
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-client-side-phishing-detection",
        "--disable-domain-reliability",
        "--no-pings",
        "--disable-breakpad",
        f"--proxy-server=http://127.0.0.1:{proxy_port}",  # loopback is never proxied
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    ]


@dataclass
class PageResult:
    page: str
    problems: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    loaded: bool = False  # the page loaded and settled (its ids are the rendered ones)
    attempts: int = 0


# Runs in the page once it has settled; returns what the reader sees.
INSPECT_JS = r"""
() => {
  const problems = [];
  const skip = 'pre, code, script, style, textarea, mjx-container, .highlight, .MathJax';
  // formulas: every .math element typeset, no MathJax error, no raw TeX in the text
  const maths = Array.from(document.querySelectorAll('.math'));
  const raw = maths.filter(m => !m.querySelector('mjx-container'));
  if (raw.length) problems.push(`${raw.length} formula(s) not typeset, first: ${raw[0].textContent.trim().slice(0, 80)}`);
  document.querySelectorAll('mjx-merror').forEach(e =>
    problems.push(`MathJax error: ${e.getAttribute('data-mjx-error') || e.textContent.slice(0, 80)}`));
  const tex = /\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\$[^$\n]*[\\^_][^$\n]*\$/;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement && n.parentElement.closest(skip)) continue;
    const m = n.textContent.match(tex);
    if (m) problems.push(`raw TeX in the text: ...${n.textContent.slice(Math.max(0, m.index - 30), m.index + 50).trim()}...`);
  }
  // images: loaded and non-empty
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) problems.push(`image not loaded: ${img.getAttribute('src')}`);
  }
  // widgets: each view rendered (the HTML manager puts a .widget-subarea before its script)
  const views = Array.from(document.querySelectorAll(`WIDGET_VIEW`));
  views.forEach((v, i) => {
    const area = v.previousElementSibling;
    if (!area || !area.classList.contains('widget-subarea')) {
      problems.push(`widget ${i + 1} of ${views.length} left empty (no view rendered)`); return;
    }
    if (!area.firstElementChild || area.getBoundingClientRect().height < 1)
      problems.push(`widget ${i + 1} of ${views.length} left empty (blank area)`);
    if (/Error displaying widget/.test(area.textContent)) problems.push(`widget ${i + 1}: Error displaying widget`);
    area.querySelectorAll('.widget-output').forEach(o => {
      if (!o.querySelector('img, svg, canvas, pre, table, .output_subarea, .jp-OutputArea-child'))
        problems.push(`widget ${i + 1}: an Output widget shows nothing`);
    });
  });
  // width: a display formula or a code block wider than its column makes the reader scroll
  // sideways (or cuts it off); measured as content wider than the box that holds it
  const wider = e => e.scrollWidth > e.clientWidth + 1;
  document.querySelectorAll('mjx-container[display="true"]').forEach(m => {
    const box = m.closest('div.math') || m.parentElement;
    if (wider(m) || (box && wider(box)))
      problems.push(`display formula wider than its column (${m.scrollWidth} > ${Math.min(m.clientWidth, box ? box.clientWidth : m.clientWidth)} px): ` +
                    (m.closest('.math') || m).textContent.trim().slice(0, 60));
  });
  document.querySelectorAll('pre').forEach(p => {
    if (p.closest('.cell_output, .output, mjx-container')) return;  // printed output may be wide
    if (wider(p)) {
      const longest = p.textContent.split('\n').reduce((a, b) => (b.length > a.length ? b : a), '');
      problems.push(`code block wider than its column (${p.scrollWidth} > ${p.clientWidth} px), ` +
                    `longest line ${longest.length} characters: ${longest.trim().slice(0, 60)}`);
    }
  });
  const links = Array.from(document.querySelectorAll('a[href]'), a => a.href);
  const ids = Array.from(document.querySelectorAll('[id], a[name]'), e => e.id || e.getAttribute('name'));
  return {problems, links, ids, widgets: views.length, maths: maths.length};
}
""".replace("WIDGET_VIEW", WIDGET_VIEW)

SETTLE_JS = """
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await Promise.all(Array.from(document.images, img => img.complete ? null :
    new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); })));
  await document.fonts.ready;
}
"""


QUIET_MS = 500  # the network counts as idle after this long without a request in flight


def _wait_network_quiet(pg, pending: dict, timeout_ms: int) -> None:
    """Wait until no request of the page has been in flight for ``QUIET_MS``.

    Playwright's ``networkidle`` says only that it timed out; this wait names the requests
    still in flight when it gives up, so a page that never settles can be diagnosed.
    """
    waited = quiet = 0
    step = 100
    while quiet < QUIET_MS:
        if waited >= timeout_ms:
            stuck = (
                ", ".join(sorted(pending.values())[:5])
                or "none (requests kept starting)"
            )
            raise TimeoutError(
                f"network not quiet after {timeout_ms} ms; in flight: {stuck}"
            )
        idle_before = not pending
        pg.wait_for_timeout(step)
        waited += step
        quiet = quiet + step if idle_before and not pending else 0


def _check_page(
    browser,
    base: str,
    page: str,
    shots: Path | None,
    timeout_ms: int,
    block_outside: bool = True,
) -> PageResult:
    """Load one page as a first-time reader would (a fresh browser context: no storage, no cache)."""
    result = PageResult(page)
    seen = result.problems
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, service_workers="block"
    )
    pg = context.new_page()
    origin = base.rstrip("/")
    pending: dict = {}  # request -> its URL, while in flight
    pg.on("request", lambda r: pending.__setitem__(r, r.url[:160]))
    pg.on("requestfinished", lambda r: pending.pop(r, None))
    pg.on("requestfailed", lambda r: pending.pop(r, None))

    def inside(url: str) -> bool:
        return url.startswith(origin + "/") or url.startswith(
            ("data:", "blob:", "about:")
        )

    def route(r):
        if inside(r.request.url) or not block_outside:
            r.continue_()
        else:
            r.abort("blockedbyclient")

    pg.route("**/*", route)
    pg.on(
        "request",
        lambda r: inside(r.url) or seen.append(f"request outside the site: {r.url}"),
    )
    pg.on(
        "console",
        lambda m: (
            m.type == "error"
            and seen.append(
                f"console error: {m.text[:300]} ({m.location.get('url', '')}:{m.location.get('lineNumber', '')})"
            )
        ),
    )
    pg.on("pageerror", lambda e: seen.append(f"uncaught exception: {str(e)[:300]}"))
    pg.on(
        "requestfailed",
        lambda r: (
            inside(r.url) and seen.append(f"failed request: {r.url} ({r.failure})")
        ),
    )
    pg.on(
        "response",
        lambda r: r.status >= 400 and seen.append(f"HTTP {r.status}: {r.url}"),
    )
    try:
        pg.goto(f"{origin}/{page}", wait_until="load", timeout=timeout_ms)
        pg.evaluate(SETTLE_JS)
        if pg.locator(WIDGET_VIEW).count() and pg.locator(WIDGET_STATE).count():
            # the HTML manager renders widgets asynchronously (never without their saved state)
            try:
                pg.wait_for_function(
                    f"Array.from(document.querySelectorAll(`{WIDGET_VIEW}`)).every("
                    "v => v.previousElementSibling && v.previousElementSibling.classList.contains"
                    "('widget-subarea') && v.previousElementSibling.querySelector('.widget-output img, "
                    ".jupyter-widgets'))",
                    timeout=min(timeout_ms, 10000),
                )
            except Exception:
                pass  # reported by the inspection below
            pg.evaluate(SETTLE_JS)
        _wait_network_quiet(pg, pending, timeout_ms)
        found = pg.evaluate(INSPECT_JS)
        seen.extend(found["problems"])
        result.links, result.ids = found["links"], set(found["ids"])
        result.loaded = True
        if shots is not None:
            pg.screenshot(
                path=str(
                    shots / (page.replace("/", "__").removesuffix(".html") + ".png")
                ),
                full_page=True,
            )
    except (
        Exception
    ) as exc:  # a page that does not load or settle is a failure, not a crash
        seen.append(f"page did not load/settle: {type(exc).__name__}: {str(exc)[:300]}")
    finally:
        context.close()
    return result


def _check_links(root: Path, base: str, results: dict[str, PageResult]) -> None:
    """Every link into the site must reach an existing file and, with a #fragment, an existing id."""
    # a page that did not load is reported once, on its own; links into it are checked
    # against the ids in its file
    ids_of = {page: r.ids for page, r in results.items() if r.loaded}
    for page, result in results.items():
        for href in result.links:
            if not href.startswith(base):
                continue  # external links (Binder, Colab, GitHub) are not followed offline
            url, fragment = urldefrag(href)
            path = unquote(urlsplit(url).path).lstrip("/") or "index.html"
            if path.endswith("/"):
                path += "index.html"
            target = root / path
            if not target.is_file():
                result.problems.append(f"broken internal link: {href} (no file {path})")
                continue
            if fragment and target.suffix == ".html":
                ids = ids_of.get(path)
                if ids is None:
                    ids = set(
                        re.findall(
                            r'\b(?:id|name)="([^"]+)"',
                            target.read_text(errors="replace"),
                        )
                    )
                    ids_of[path] = ids
                if unquote(fragment) not in ids:
                    result.problems.append(
                        f"broken internal link: {href} (no anchor #{fragment} in {path})"
                    )


@dataclass
class SiteReport:
    problems: dict[
        str, list[str]
    ]  # page -> what is wrong with it (empty list: the page is fine)
    cut_off: list[str]  # requests that reached the sinkhole proxy, i.e. were stopped
    # at the network cut-off (the browser's own update/sign-in
    # pings; a page's outside request only when not blocked)

    retried: list[str] = field(default_factory=list)  # pages that needed a second load

    @property
    def failed(self) -> dict[str, list[str]]:
        return {page: p for page, p in self.problems.items() if p}


def check_site(
    root,
    pages=None,
    screenshot_dir=None,
    *,
    timeout_ms: int = 60000,
    block_outside: bool = True,
) -> SiteReport:
    """Check ``pages`` (default: every page) of the site in ``root``.

    Every page is loaded in a fresh browser context, as by a first-time reader. Requests from a
    page to anything but the site are reported as problems of that page and aborted.

    A page that only redirects (``index.html``) is not loaded; its target is checked as a link.
    ``block_outside=False`` lets them go on, so that a test can show that the browser-level cut
    (the sinkhole proxy) stops such a request on its own.
    """
    from playwright.sync_api import sync_playwright

    root = Path(root)
    pages = site_pages(root) if pages is None else list(pages)
    shots = Path(screenshot_dir) if screenshot_dir is not None else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    executable = find_chromium()
    if executable is None:
        raise RuntimeError(
            "Chromium not found: install Debian's chromium (`make test` does it) "
            "or set MMCL_CHROMIUM"
        )
    results: dict[str, PageResult] = {}
    with (
        _Serve(_Sinkhole()) as sinkhole,
        serve_site(root) as server,
        sync_playwright() as p,
    ):
        base = f"http://127.0.0.1:{server.server_port}/"
        browser = p.chromium.launch(
            executable_path=executable,
            headless=True,
            args=browser_args(sinkhole.server_address[1]),
        )
        try:
            for page in pages:
                text = (root / page).read_text(errors="replace")
                redirect = REDIRECT.search(text)
                if redirect and len(text) < 2000:
                    results[page] = PageResult(
                        page,
                        links=[
                            base
                            + str(Path(page).parent / redirect.group(1)).removeprefix(
                                "./"
                            )
                        ],
                    )
                    continue
                # a page that does not load or settle gets one more fresh try (a loaded
                # machine can stall a first load); one that fails twice is reported
                for attempt in (1, 2):
                    results[page] = _check_page(
                        browser, base, page, shots, timeout_ms, block_outside
                    )
                    results[page].attempts = attempt
                    if results[page].loaded:
                        break
        finally:
            browser.close()
        _check_links(root, base, results)
        cut_off = list(sinkhole.hits)
    return SiteReport(
        {page: r.problems for page, r in results.items()},
        cut_off,
        [page for page, r in results.items() if r.attempts > 1],
    )


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "_build/html")
    report = check_site(root, screenshot_dir=argv[1] if len(argv) > 1 else None)
    for page, problems in report.problems.items():
        print(f"{'FAIL' if problems else 'ok  '} {page}")
        for problem in problems:
            print(f"       {problem}")
    print(f"stopped at the network cut-off: {report.cut_off or 'nothing'}")
    print(f"needed a second load: {report.retried or 'none'}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
