"""`.keras` files load in Keras safe mode: a file holding Python code (a
Lambda layer) is refused unless the user trusts it explicitly; tfl holds no
pickle anywhere."""

import pathlib
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

from tfl.model import UnsafeModelError
from tfl.model import load_model

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lambda_file(tmp_path_factory):
    inputs = keras.Input((3,))
    outputs = keras.layers.Lambda(lambda x: x * 2.0 + 1.0)(inputs)  # its bytecode goes into the file
    path = tmp_path_factory.mktemp("models") / "with_lambda.keras"
    keras.Model(inputs, outputs).save(path)
    return path


def test_a_file_with_a_lambda_layer_is_refused_naming_the_file_and_the_flag(lambda_file):
    with pytest.raises(UnsafeModelError) as error:
        load_model(lambda_file)
    message = str(error.value)
    assert str(lambda_file) in message
    assert "--trust-model-code" in message and "safe_mode=False" in message


def test_the_explicit_flag_loads_it_and_its_code_runs(lambda_file):
    model = load_model(lambda_file, safe_mode=False)
    np.testing.assert_allclose(model(np.ones((1, 3), "float32")), [[3.0, 3.0, 3.0]])


@pytest.mark.parametrize("command", ["predict", "evaluate", "export"])
def test_the_cli_refuses_it_without_a_traceback(lambda_file, command, tmp_path):
    extra = {"predict": ["x.png"], "evaluate": ["digits"], "export": ["--name", "m", "--base", str(tmp_path)]}
    result = subprocess.run(
        [sys.executable, "-m", "tfl", command, str(lambda_file), *extra[command]],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "holds Python code (a Lambda layer)" in result.stderr and "--trust-model-code" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("m/*"))  # nothing exported


def test_no_pickle_anywhere_in_tfl():
    pattern = re.compile(r"\b(import pickle|from pickle|cPickle|dill|joblib|allow_pickle\s*=\s*True|pickle\.load)")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "tfl").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
