"""Data flows one way: config -> data -> backbones -> model -> train -> adapt -> evaluate -> attribution -> select -> export.

A folder of `tfl` may import only the folders to its left (and `tfl.serialization`, `tfl.io`, `tfl.traced`);
the modules on top (`tfl.experiment`, `tfl.demo`, `tfl.cli`) may import any.
Only one module may import `keras_hub`.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "tfl"
ORDER = ["config", "data", "backbones", "model", "train", "adapt", "evaluate", "attribution", "select", "export"]
SHARED = {"serialization", "io", "traced"}


def _tfl_imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        yield from names


def _folder(path):
    return path.relative_to(ROOT).parts[0]


@pytest.mark.parametrize("folder", [f for f in ORDER if (ROOT / f).is_dir()])
def test_a_folder_imports_only_folders_to_its_left(folder):
    allowed = set(ORDER[: ORDER.index(folder) + 1]) | SHARED
    for path in (ROOT / folder).rglob("*.py"):
        for name in _tfl_imports(path):
            parts = name.split(".")
            if parts[0] == "tfl" and len(parts) > 1:
                assert parts[1] in allowed, f"{path.relative_to(ROOT)} imports {name}"


def test_at_most_one_module_imports_keras_hub():
    importers = [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if any(name.split(".")[0] == "keras_hub" for name in _tfl_imports(path))
    ]
    assert len(importers) <= 1, importers


def test_the_cli_imports_tensorflow_lazily():
    for path in (ROOT / "cli").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        for node in top_level:
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            assert module.split(".")[0] not in ("tensorflow", "keras", "keras_hub"), f"{path.name}: {module}"
            assert not (module.startswith("tfl.") and not module.startswith("tfl.cli")) or module == "tfl", (
                f"{path.name} imports {module} at the top: import it inside run()"
            )
