"""book/api.md documents every public name: every module of ``mmcl.MODULES`` (whose
``__all__`` make up ``mmcl.__all__``) plus the figure helpers, in layer order, and
autodoc can document each name (a docstring, or a ``#:`` comment for a constant, defined
in the module that lists it)."""

import importlib
import inspect
import re
from pathlib import Path

import pytest
from sphinx.pycode import ModuleAnalyzer

import mmcl

PAGE = Path(__file__).resolve().parents[1] / "book" / "api.md"
FIGURES = ("mmcl.plotting", "mmcl.widgets")


def documented_modules() -> list[str]:
    text = PAGE.read_text()
    blocks = re.findall(r"\.\. automodule:: (\S+)\n((?:   :\S+:.*\n)*)", text)
    for name, options in blocks:
        assert ":members:" in options, f"{name} is listed without :members:"
    return [name for name, _ in blocks]


def test_page_lists_every_module_in_layer_order():
    expected = [m.__name__ for m in mmcl.MODULES] + list(FIGURES)
    assert documented_modules() == expected


def test_readme_table_lists_every_module_in_layer_order():
    """The README's "package at a glance" table: the same modules, the same order."""
    readme = (PAGE.parents[1] / "README.md").read_text()
    table = readme.split("## The package at a glance", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|[^|]*\| `(mmcl\.[\w.]+)` \|", table, re.M)
    assert rows == [m.__name__ for m in mmcl.MODULES] + list(FIGURES)


def test_top_level_names_are_the_modules_public_names():
    top = [m for m in mmcl.MODULES if m not in mmcl.NAMESPACED]
    names = [n for m in top for n in m.__all__]
    assert mmcl.__all__ == names and len(set(names)) == len(names)
    assert all(getattr(mmcl, n) is getattr(m, n) for m in top for n in m.__all__)


@pytest.mark.parametrize("modname", [m.__name__ for m in mmcl.MODULES] + list(FIGURES))
def test_every_public_name_has_documentation_autodoc_finds(modname):
    module = importlib.import_module(modname)
    attr_docs = {
        name for (_, name) in ModuleAnalyzer.for_module(modname).find_attr_docs()
    }
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            # autodoc skips members imported from elsewhere and members without a
            # docstring
            assert obj.__module__ == modname, (
                f"{modname}.{name} is defined in {obj.__module__}"
            )
            assert (
                obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
            ), f"{modname}.{name} has no docstring"
        else:
            assert name in attr_docs, f"constant {modname}.{name} needs a '#:' comment"


def entries_missing(obj) -> list[str]:
    """Parameters of ``obj`` without their own numpydoc entry line ``name : type``."""
    doc = obj.__doc__ or ""
    prefix = {"VAR_POSITIONAL": "*", "VAR_KEYWORD": "**"}
    missing = []
    for p in inspect.signature(obj).parameters.values():
        name = prefix.get(p.kind.name, "") + p.name
        if p.name != "self" and not re.search(
            rf"^\s*{re.escape(name)}( :|$)", doc, re.M
        ):
            missing.append(name)
    return missing


def test_every_parameter_has_its_own_entry():
    missing = []
    for module in mmcl.MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            checked = inspect.isfunction(obj) or (
                inspect.isclass(obj) and "Parameters" in (obj.__doc__ or "")
            )
            if checked:
                missing += [f"{name}: {p}" for p in entries_missing(obj)]
    assert not missing, missing
