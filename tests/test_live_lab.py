"""A chapter run live in JupyterLab, as a reader of ``make lab`` runs it, driven in
headless Chromium.

JupyterLab starts headless on 127.0.0.1 (a free port, a random token, a temporary root
holding a copy of one chapter with a widget, its own settings and runtime folders);
Debian's Chromium, cut off from the network as in ``test_browser.py``, opens the
notebook, runs all cells from the Run menu and waits for the kernel. The copy has no
stored outputs, so everything seen comes from this kernel. Then: every code cell ran
once (execution counts 1..n), none has an error output, the kernel is the environment's
own Python with ``mmcl`` importable, every widget renders (controls and figure), and
moving one control (a slider by the keyboard, or a drop-down to its neighbouring option)
redraws its figure (the PNG bytes differ). A screenshot of the live notebook is kept in
``_build/screenshots/``. Everything is bounded by ``TIME_LIMIT`` seconds, and the server
and its kernel are stopped whatever happens.

Like the browser test: skipped without Chromium unless ``MMCL_BROWSER_TEST=required``
(``make test`` sets it), then a failure.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
import pytest

import browser_check as bc

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "_build" / "screenshots"
# The cheapest chapter with a widget (it draws from saved results in book/data/, copied
# along):
# its run-all takes about 40 s on a loaded 2-core machine, chapter 2's about 90 s.
CHAPTER = "04_unpaired.ipynb"
SCREENSHOT = SHOTS / f"live_lab__{Path(CHAPTER).stem}.png"
TIME_LIMIT = (
    240.0  # seconds for the whole test: server start, run-all, widget checks, teardown
)
REQUIRED = os.environ.get("MMCL_BROWSER_TEST") == "required"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# JupyterLab's user settings for this run: every cell in the DOM (no virtual scrolling),
# no
# notification pop-ups over the notebook.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none"
    },
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
}


def _unavailable(reason: str):
    (pytest.fail if REQUIRED else pytest.skip)(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    log: Path
    deadline: float  # time.monotonic() by which everything must be done
    started: float  # time.monotonic() when the server was started
    up: float  # ... when it answered

    def left_ms(self, cap: float = TIME_LIMIT) -> float:
        """Milliseconds left before the deadline (at most ``cap`` seconds, at least 1 ms)."""
        return max(1.0, min(cap, self.deadline - time.monotonic()) * 1000)


def _stop(server: subprocess.Popen) -> list[int]:
    """Stop the server, its kernels and anything else they started; the pids that had to be killed."""
    try:
        procs = [psutil.Process(server.pid)] + psutil.Process(server.pid).children(
            recursive=True
        )
    except psutil.NoSuchProcess:
        procs = []
    for pgid in {server.pid} | {_pgid(p) for p in procs} - {None, os.getpgid(0)}:
        try:
            os.killpg(
                pgid, signal.SIGTERM
            )  # the server shuts its kernels down on SIGTERM
        except (ProcessLookupError, PermissionError):
            pass
    _, alive = psutil.wait_procs(procs, timeout=10)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
    server.wait(timeout=5)
    return [p.pid for p in alive]


def _kill_browsers() -> None:
    """Kill the Playwright driver(s) this process started, and their Chromium."""
    for p in psutil.Process().children():
        try:
            if "playwright" in " ".join(p.cmdline()):
                for q in [p] + p.children(recursive=True):
                    q.kill()
        except psutil.NoSuchProcess:
            pass


def _pgid(p: psutil.Process) -> int | None:
    try:
        return os.getpgid(p.pid)
    except (ProcessLookupError, psutil.NoSuchProcess):
        return None


@pytest.fixture
def lab(tmp_path):
    """JupyterLab on 127.0.0.1 serving a temporary root with a copy of CHAPTER; always stopped."""
    if bc.find_chromium() is None:
        _unavailable(
            "Chromium is not installed (`make test` installs Debian's chromium)"
        )
    if importlib.util.find_spec("jupyterlab") is None:
        _unavailable(
            "JupyterLab is not installed (`make env` installs requirements.txt)"
        )
    deadline = time.monotonic() + TIME_LIMIT
    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.read(ROOT / "book" / CHAPTER, as_version=4)
    for cell in nb.cells:  # a clean copy: outputs, counts and saved widget state all go
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, root / CHAPTER)
    shutil.copytree(ROOT / "book" / "data", root / "data")
    settings = tmp_path / "lab-settings"
    for name, value in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(value))
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        JUPYTER_PREFER_ENV_PATH="1",
    )
    token, port = secrets.token_hex(24), _free_port()
    log = tmp_path / "lab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_root=True",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with open(log, "wb") as out:
        server = subprocess.Popen(
            cmd,
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    # the hard stop: a test still running past the deadline loses the server, its kernel
    # and the
    # browser, so whatever it waits for fails at once (and its clean-up runs)
    watchdog = threading.Timer(
        TIME_LIMIT + 5, lambda: (_kill_browsers(), _stop(server))
    )
    watchdog.daemon = True
    watchdog.start()
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(
                    f"JupyterLab exited with {server.returncode}:\n{log.read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(
                    f"{url}/api/status?token={token}", timeout=2
                ) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline - TIME_LIMIT / 2:
                pytest.fail(
                    f"JupyterLab did not answer in time:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.25)
        yield Lab(
            url, token, root, log, deadline, deadline - TIME_LIMIT, time.monotonic()
        )
    finally:
        watchdog.cancel()
        _stop(server)


# In the page (the app is exposed as window.jupyterapp): the notebook panel and its
# kernel
PANEL_JS = "window.jupyterapp && window.jupyterapp.shell.currentWidget"
KERNEL_IDLE_JS = f"""() => {{
  const nb = {PANEL_JS};
  const k = nb && nb.sessionContext && nb.sessionContext.session && nb.sessionContext.session.kernel;
  return !!(nb && nb.context && nb.context.isReady && nb.content && k && k.status === 'idle');
}}"""
# Done when the kernel is idle and every code cell has run, or a cell failed (the rest
# is skipped).
RUN_DONE_JS = f"""() => {{
  const nb = {PANEL_JS};
  const k = nb.sessionContext.session && nb.sessionContext.session.kernel;
  const cells = Array.from(nb.content.model.cells).filter(c => c.type === 'code');
  const failed = cells.some(c => c.outputs.toJSON().some(o => o.output_type === 'error'));
  const ran = cells.every(c => c.executionCount !== null && c.executionState !== 'running');
  return !!k && k.status === 'idle' && (ran || failed);
}}"""
CELLS_JS = f"""() => Array.from({PANEL_JS}.content.model.cells).filter(c => c.type === 'code')
  .map(c => ({{count: c.executionCount, outputs: c.outputs.toJSON()}}))"""
KERNEL_INFO_JS = f"""async () => {{
  const k = {PANEL_JS}.sessionContext.session.kernel;
  let text = '';
  const future = k.requestExecute({{code:
    'import json, sys, mmcl; print(json.dumps([sys.prefix, sys.executable, mmcl.__file__]))',
    silent: false, store_history: false}});
  future.onIOPub = m => {{ if (m.header.msg_type === 'stream') text += m.content.text; }};
  await Promise.race([future.done, new Promise((_, no) => setTimeout(
    () => no(new Error('the kernel did not answer in 30 s')), 30000))]);
  return text;
}}"""
# Every widget view rendered: its controls and, in its Output, a loaded figure.
# (a widget view is a .jupyter-widgets element right inside an output area)
WIDGET_ROOTS = ".jp-OutputArea-output > .jupyter-widgets"
WIDGETS_JS = f"""() => Array.from(document.querySelectorAll('{WIDGET_ROOTS}')).map(area => {{
  const img = area.querySelector('img');
  return {{controls: area.querySelectorAll('.widget-slider, .widget-dropdown, .widget-inline-hbox').length,
           image: img && img.complete && img.naturalWidth > 0 ? img.getAttribute('src') : null,
           text: area.textContent.slice(0, 200)}};
}})"""
FIGURE_JS = f"""(i) => {{
  const img = document.querySelectorAll('{WIDGET_ROOTS}')[i].querySelector('img');
  return img && img.complete && img.naturalWidth > 0 ? img.getAttribute('src') : null;
}}"""


def _png(src: str | None) -> bytes:
    assert src and src.startswith("data:image/png;base64,"), (
        f"not an inline PNG: {str(src)[:60]}"
    )
    data = base64.b64decode(src.split(",", 1)[1])
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return data


def test_chapter_runs_live_in_jupyterlab(lab):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout, sync_playwright

    outside: list[str] = []
    uncaught: list[str] = []
    with bc._Serve(bc._Sinkhole()) as sinkhole, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=bc.find_chromium(),
            headless=True,
            args=bc.browser_args(sinkhole.server_address[1]),
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda e: uncaught.append(str(e)[:300]))
            page.route(
                "**/*",
                lambda r: (
                    r.continue_()
                    if r.request.url.startswith((lab.url, "data:", "blob:"))
                    else (outside.append(r.request.url), r.abort())[1]
                ),
            )
            page.goto(
                f"{lab.url}/lab/tree/{CHAPTER}?token={lab.token}",
                timeout=lab.left_ms(90),
            )
            page.wait_for_function(KERNEL_IDLE_JS, timeout=lab.left_ms(90), polling=250)
            _dismiss_dialogs(page)
            opened_at = time.monotonic()

            # Run > Run All Cells, as a reader would
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator(
                ".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")
            ).click()
            page.wait_for_function(RUN_DONE_JS, timeout=lab.left_ms(), polling=500)
            ran_at = time.monotonic()

            cells = page.evaluate(CELLS_JS)
            errors = [
                f"cell {i + 1}: {o.get('ename')}: {o.get('evalue')}"
                for i, c in enumerate(cells)
                for o in c["outputs"]
                if o["output_type"] == "error"
            ]
            assert not errors, "error outputs:\n" + "\n".join(errors)
            counts = [c["count"] for c in cells]
            assert counts == list(range(1, len(cells) + 1)), (
                f"not every cell ran once: {counts}"
            )

            prefix, executable, module = json.loads(page.evaluate(KERNEL_INFO_JS))
            assert Path(prefix).resolve() == Path(sys.prefix).resolve(), (
                f"the kernel is not this environment's Python: {executable}"
            )
            assert Path(module).resolve().is_relative_to(ROOT / "mmcl"), module

            n_widgets = sum(
                WIDGET_MIME in o.get("data", {}) for c in cells for o in c["outputs"]
            )
            assert n_widgets >= 1, f"{CHAPTER} shows no widget"
            try:
                page.wait_for_function(
                    f"() => {{ const w = ({WIDGETS_JS})(); return w.length === {n_widgets} && "
                    "w.every(x => x.controls > 0 && x.image); }",
                    timeout=lab.left_ms(60),
                    polling=250,
                )
            except PlaywrightTimeout:
                pytest.fail(
                    f"{n_widgets} widget(s) expected, rendered: {page.evaluate(WIDGETS_JS)}\n"
                    + page.evaluate(
                        "() => Array.from(document.querySelectorAll("
                        "'.jp-OutputArea-output'), e => e.getAttribute("
                        "'data-mime-type') + ': ' + e.outerHTML.slice(0, 300))"
                        ".join('\\n')"
                    )
                )
            widgets = page.evaluate(WIDGETS_JS)
            assert not [w for w in widgets if "Error displaying widget" in w["text"]]

            # move one control one step with the keyboard (a slider's handle or a
            # drop-down):
            # its widget's figure is redrawn
            areas = page.locator(WIDGET_ROOTS)
            index, control, key = _first_control(areas, n_widgets)
            before, value_before = (
                _png(page.evaluate(FIGURE_JS, index)),
                _value(control),
            )
            control.scroll_into_view_if_needed(timeout=lab.left_ms(10))
            if key.startswith("Arrow"):
                control.focus()
                page.keyboard.press(key)
            else:  # a drop-down: choose the option as a reader does
                control.select_option(label=key, timeout=lab.left_ms(10))
            page.wait_for_function(
                f"([i, old]) => {{ const s = ({FIGURE_JS})(i); return s && s !== old; }}",
                arg=[index, widgets[index]["image"]],
                timeout=lab.left_ms(60),
                polling=250,
            )
            after, value_after = _png(page.evaluate(FIGURE_JS, index)), _value(control)
            assert value_after != value_before, (
                f"the control did not move ({value_before})"
            )
            assert after != before, "the figure did not change when the control moved"

            SHOTS.mkdir(parents=True, exist_ok=True)
            areas.nth(index).scroll_into_view_if_needed(timeout=lab.left_ms(10))
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()
    assert not outside, (
        f"JupyterLab's page asked for something outside the server: {outside}"
    )
    assert not uncaught, f"uncaught exceptions in JupyterLab's page: {uncaught}"
    print(
        f"\nlive lab: {CHAPTER}: server up in {lab.up - lab.started:.1f} s, notebook open with an "
        f"idle kernel {opened_at - lab.up:.1f} s, run all {ran_at - opened_at:.1f} s, checks "
        f"{time.monotonic() - ran_at:.1f} s; {n_widgets} widget(s), {value_before} -> {value_after}; "
        f"screenshot {SCREENSHOT.relative_to(ROOT)}"
    )


def _dismiss_dialogs(page) -> None:
    """Accept a dialog JupyterLab may open on a first visit (e.g. a kernel choice), if any."""
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count():
        dialog.first.click()


def _first_control(areas, n_widgets):
    """(widget index, control, move) for the first slider handle or drop-down: the arrow key that
    moves the slider one step, or the drop-down's neighbouring option (towards the end it is not at)."""
    for i in range(n_widgets):
        handle = areas.nth(i).locator(".widget-slider .noUi-handle")
        if handle.count():
            h = handle.first
            at_max = h.get_attribute("aria-valuenow") == h.get_attribute(
                "aria-valuemax"
            )
            return i, h, "ArrowLeft" if at_max else "ArrowRight"
        select = areas.nth(i).locator(".widget-dropdown select")
        if select.count():
            s = select.first
            labels = s.evaluate("e => Array.from(e.options, o => o.text)")
            now = s.evaluate("e => e.selectedIndex")
            return i, s, labels[now - 1 if now == len(labels) - 1 else now + 1]
    pytest.fail("no widget has a slider or a drop-down to move")


def _value(control) -> str:
    """What a control shows: a slider handle's aria-valuetext/now, a drop-down's selected option."""
    return control.evaluate(
        "e => e.tagName === 'SELECT' ? e.options[e.selectedIndex].text : "
        "(e.getAttribute('aria-valuetext') || e.getAttribute('aria-valuenow'))"
    )
