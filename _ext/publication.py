"""Launch buttons only for a published book.

The launch buttons (Colab, Binder) and the repository button point at ``repository.url`` at the
pinned ref ``repository.branch`` of ``_config.yml``. Before that repository exists they would lead
a reader to a page that does not exist, so until ``repository.published`` is true this extension
removes them (``launch_buttons`` and ``use_repository_button`` of the theme's options). The
``.ipynb`` download button stays: its notebook's first cell says how to get mmcl
(``scripts/add_install_cell.py`` writes that cell from the same setting).
"""
from __future__ import annotations

from pathlib import Path

import yaml


def is_published(srcdir) -> bool:
    """``repository.published`` of the book's ``_config.yml`` (False when absent)."""
    config = Path(srcdir) / "_config.yml"
    data = yaml.safe_load(config.read_text()) if config.is_file() else None
    return ((data or {}).get("repository") or {}).get("published") is True


def _hide_unpublished_buttons(app, config) -> None:
    if is_published(app.srcdir):
        return
    options = dict(config.html_theme_options)
    options.pop("launch_buttons", None)
    options["use_repository_button"] = False
    config.html_theme_options = options


def setup(app):
    app.connect("config-inited", _hide_unpublished_buttons)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
