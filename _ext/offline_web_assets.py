"""Make the HTML book self-contained: MathJax and the widget JavaScript are served by the book.

The files come from the npm packages pinned in ``package.json`` / ``package-lock.json`` (``make env``
installs them into ``node_modules/``); nothing is committed and no CDN is used. At the end of an
HTML build they are copied into ``<outdir>/_static/`` where ``_config.yml`` points the pages:

* ``mathjax/``  MathJax 3 (``mathjax_path: mathjax/tex-chtml.js``), with its fonts and extensions;
* ``hm/``       the Jupyter widgets HTML manager (``nb_ipywidgets_js: hm/embed-amd.js``), and
  ``hm/widgets-setup.js`` (written here): it tells RequireJS that the manager lives in ``hm/`` (so
  its fonts are looked up there, not next to the page) and lends MathJax 3 the one MathJax 2 call
  ipywidgets makes to typeset widget labels;
* ``require.js`` RequireJS, which the HTML manager needs.

The folder is deliberately not the book's ``_static``: Jupyter Book 1 injects every ``.js`` found
there into every page. The extension also drops script tags registered twice (sphinx-thebe's
inline configuration is added on every read phase, which declares ``THEBE_JS_URL`` twice and logs
a ``SyntaxError`` in every page).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"

# package -> (source inside the package, destination under _static, files to leave out)
ASSETS = {
    "mathjax": ("es5", "mathjax", ("node-main.js",)),
    "@jupyter-widgets/html-manager": ("dist", "hm", ("*.map", "embed.js", "*.LICENSE.txt")),
    "requirejs": ("require.js", "require.js", ()),
}


# Loaded between require.js and embed-amd.js (see nb_ipywidgets_js in _config.yml).
WIDGETS_SETUP = """\
// Written by _ext/offline_web_assets.py; loaded after require.js, before the widget manager.
(function () {
  // The manager finds its fonts next to its module's URL, which RequireJS derives from the page's
  // folder unless told where the module lives: here, in _static/hm/.
  var here = document.currentScript.src;
  require.config({paths: {"@jupyter-widgets/html-manager/dist": here.slice(0, here.lastIndexOf("/"))}});
  // ipywidgets 8 typesets widget labels with the MathJax 2 call MathJax.Hub.Queue; the book loads
  // MathJax 3 (deferred, so it exists by DOMContentLoaded, when the manager renders the widgets).
  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (!mj || mj.Hub || !mj.startup) return;
    mj.Hub = {Queue: function (command) {
      var element = command[2];
      mj.startup.promise.then(function () { return mj.typesetPromise([element]); });
    }};
  });
})();
"""


def _version(package: str) -> str:
    manifest = NODE_MODULES / package / "package.json"
    if not manifest.is_file():
        raise ExtensionError(
            f"offline_web_assets: {manifest} is missing; run `make env` (it runs `npm ci`) so the "
            "book can serve MathJax and the widget JavaScript itself")
    return json.loads(manifest.read_text())["version"]


def copy_assets(static_dir: Path) -> None:
    """Copy the pinned web assets into ``static_dir`` (skipped when that version is already there)."""
    for package, (src, dst, ignore) in ASSETS.items():
        version = _version(package)
        source, target = NODE_MODULES / package / src, static_dir / dst
        stamp = static_dir / f".{dst.replace('/', '_')}.version"
        if target.exists() and stamp.is_file() and stamp.read_text() == version:
            continue
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(*ignore))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        stamp.write_text(version)
    (static_dir / "hm" / "widgets-setup.js").write_text(WIDGETS_SETUP)


def _check_installed(app) -> None:
    if app.builder.format == "html":
        for package in ASSETS:
            _version(package)


def _copy_on_finish(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        copy_assets(Path(app.outdir) / "_static")


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep the first of identical script tags (same file or same inline body, same attributes)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        attributes = getattr(js, "attributes", {})
        key = (getattr(js, "filename", js) or None,  # an inline script has None or "" as file
               tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app):
    app.connect("builder-inited", _check_installed)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("build-finished", _copy_on_finish)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
