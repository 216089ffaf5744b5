"""The evaluate package: its private helpers' docstring examples run, and it imports only what it may.

The examples of its public names run in tests/test_docstring_examples.py.
"""

import ast
import doctest
import pathlib

import keras
import pytest
import tensorflow as tf

from tfl.evaluate import metrics
from tfl.evaluate import plots

EXAMPLES = [plots.stage_label]


@pytest.mark.parametrize("function", EXAMPLES, ids=lambda f: f.__name__)
def test_docstring_example_runs(function):
    globs = {**function.__globals__, "keras": keras, "tf": tf}
    (test,) = doctest.DocTestFinder().find(function, globs=globs)
    assert test.examples, f"{function.__name__} has no example"
    result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test)
    assert result.failed == 0


FOLDER = pathlib.Path(metrics.__file__).parent
ALLOWED = {"collections", "contextlib", "dataclasses", "itertools", "json", "math", "os", "uuid", "numpy", "matplotlib", "tensorflow", "tfl"}
ALLOWED_TFL = ("tfl.evaluate", "tfl.config", "tfl.data", "tfl.io", "tfl.traced")


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.py")), ids=lambda p: p.name)
def test_imports_stay_left_of_evaluate(path):
    for name in _imports(path):
        assert name.split(".")[0] in ALLOWED, f"{path.name} imports {name}"
        if name.startswith("tfl"):
            assert name.startswith(ALLOWED_TFL), f"{path.name} imports {name}"


def test_metrics_need_only_numpy():
    # and the one class-name rule, from the config layer, which imports no TensorFlow
    assert set(_imports(FOLDER / "metrics.py")) == {"numpy", "tfl.config.class_names"}

