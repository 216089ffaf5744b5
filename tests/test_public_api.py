"""One list of public names: each subpackage's `__all__`, and the top-level table built from it."""

import importlib
import pathlib

import pytest

import tfl

SUBPACKAGES = ("config", "data", "backbones", "model", "train", "adapt", "evaluate", "attribution", "export")
PUBLIC = [(package, name) for package in SUBPACKAGES for name in importlib.import_module(f"tfl.{package}").__all__]


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_all_has_no_duplicates(package):
    names = importlib.import_module(f"tfl.{package}").__all__
    assert len(names) == len(set(names))


@pytest.mark.parametrize("package, name", PUBLIC, ids=[f"{p}.{n}" for p, n in PUBLIC])
def test_every_name_in_all_exists(package, name):
    assert hasattr(importlib.import_module(f"tfl.{package}"), name)


@pytest.mark.parametrize("name", sorted(tfl._LAZY))
def test_every_top_level_name_resolves(name):
    module = importlib.import_module(tfl._LAZY[name])
    assert getattr(tfl, name) is getattr(module, name)
    assert name in dir(tfl)


@pytest.mark.parametrize("name", sorted(n for n, m in tfl._LAZY.items() if m.removeprefix("tfl.") in SUBPACKAGES))
def test_a_promoted_name_is_in_its_subpackage_all(name):
    assert name in importlib.import_module(tfl._LAZY[name]).__all__


def test_no_module_below_a_package_keeps_its_own_all():
    root = pathlib.Path(tfl.__file__).parent
    listed = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "__init__.py" and "\n__all__" in "\n" + path.read_text(encoding="utf-8")
    ]
    assert listed == []


def test_an_unknown_name_names_itself():
    with pytest.raises(AttributeError, match="'nope'"):
        tfl.nope
