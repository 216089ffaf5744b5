"""tfl.data may import only tfl.config (and itself): data flows one way."""

import ast
import pathlib

import pytest

import tfl.data

ALLOWED = ("tfl.config", "tfl.data", "tfl.io")  # tfl.io: the shared atomic writes
FORBIDDEN = ("keras_hub", "keras")
ROOT = pathlib.Path(tfl.data.__file__).parent
FILES = sorted(ROOT.rglob("*.py"))


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_data_imports_only_config_and_no_keras(path):
    for module in _imports(path):
        root = module.split(".")[0]
        assert root not in FORBIDDEN, f"{path.name} imports {module}"
        if root == "tfl":
            assert module.startswith(ALLOWED), f"{path.name} imports {module}"
