"""The package's shape rules: short functions, modules under 500 lines, models asked through their contract."""

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent / "tfl"
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 500


def _modules():
    return sorted(ROOT.rglob("*.py"))


def _code_lines(lines, node):
    """Lines of `node` that hold code: no blank lines, comments or docstring."""
    docstring = set()
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        if isinstance(body[0].value.value, str):
            docstring = set(range(body[0].lineno, body[0].end_lineno + 1))
    return sum(
        1
        for number in range(node.lineno, node.end_lineno + 1)
        if number not in docstring and lines[number - 1].strip() and not lines[number - 1].strip().startswith("#")
    )


def test_no_function_has_more_than_60_lines_of_code():
    long = []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                count = _code_lines(lines, node)
                if count > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({count})")
    assert not long, long


def test_no_module_has_more_than_500_lines():
    long = [
        f"{path.relative_to(ROOT)} ({n})"
        for path in _modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, long


def test_only_tfl_model_asks_a_model_what_it_has():
    probe = re.compile(r"\b(hasattr|getattr)\((model|classifier)\b")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _modules()
        if path.relative_to(ROOT).parts[0] != "model"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if probe.search(line) and "_distribute_strategy" not in line and "_tfl_multi_worker_fix" not in line
    ]
    assert not found, found
