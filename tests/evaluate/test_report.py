"""evaluate_model end to end; write_json: plain JSON, NaN as null, atomic replace."""

import json
import os
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfl.evaluate import classification_metrics
from tfl.evaluate import evaluate_model
from tfl.evaluate import report as report_module
from tfl.evaluate import to_json
from tfl.evaluate import write_json


@pytest.mark.parametrize(
    "labels, multi_label",
    [
        pytest.param(lambda rng: rng.integers(0, 3, size=12), False, id="single_label"),
        pytest.param(lambda rng: rng.integers(0, 2, size=(12, 3)), True, id="multi_label"),
    ],
)
def test_evaluate_model_scores_the_model_outputs(labels, multi_label):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 4)).astype("float32")
    y = labels(rng)
    activation = "sigmoid" if multi_label else "softmax"
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation=activation)])
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(5)
    names = ["a", "b", "c"]
    report = evaluate_model(model, dataset, names, multi_label=multi_label)
    expected = classification_metrics(
        y, np.asarray(model(x)), names, multi_label=multi_label
    )
    assert report == expected


def test_write_json_stores_plain_json(tmp_path):
    obj = {
        "float32": np.float32(0.5),
        "int64": np.int64(3),
        "bool": np.bool_(True),
        "array": np.array([[1, 2], [3, 4]], dtype=np.int32),
        "float_array": np.array([0.25, np.nan]),
        "nan": float("nan"),
        "inf": np.float64("inf"),
        "tuple": (1, "two", None),
        "path": pathlib.Path("runs/a"),
        np.int64(7): "numpy key",
    }
    path = write_json(tmp_path / "report.json", obj)
    assert path == tmp_path / "report.json"
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {
        "float32": 0.5,
        "int64": 3,
        "bool": True,
        "array": [[1, 2], [3, 4]],
        "float_array": [0.25, None],
        "nan": None,
        "inf": None,
        "tuple": [1, "two", None],
        "path": "runs/a",
        "7": "numpy key",
    }


def test_write_json_replaces_an_existing_file_and_creates_folders(tmp_path):
    path = tmp_path / "new" / "folder" / "report.json"
    write_json(path, {"run": 1})
    write_json(path, {"run": 2})
    assert json.loads(path.read_text()) == {"run": 2}
    assert os.listdir(path.parent) == ["report.json"]


def test_write_json_file_has_the_umask_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        path = write_json(tmp_path / "report.json", {})
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_write_json_unserialisable_value_leaves_the_old_file(tmp_path):
    path = tmp_path / "report.json"
    path.write_text('{"old": true}\n')
    with pytest.raises(TypeError, match="type object to JSON"):
        write_json(path, {"fine": 1.0, "bad": object()})
    assert path.read_text() == '{"old": true}\n'
    assert os.listdir(tmp_path) == ["report.json"]


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_write_json_failure_while_writing_leaves_the_old_file(tmp_path, monkeypatch, failing):
    path = tmp_path / "report.json"
    path.write_text('{"old": true}\n')

    def fail(*args):
        raise OSError(f"simulated {failing} failure")

    monkeypatch.setattr(report_module.os, failing, fail)
    with pytest.raises(OSError, match=f"simulated {failing} failure"):
        write_json(path, {"new": True})
    monkeypatch.undo()
    assert path.read_text() == '{"old": true}\n'
    assert os.listdir(tmp_path) == ["report.json"]


@pytest.mark.parametrize(
    "obj, match",
    [
        pytest.param({"when": np.datetime64("2024-01-01")}, "type date to JSON", id="numpy_date"),
        pytest.param({"x": {1, 2}}, "type set", id="set"),
        pytest.param({(1, 2): "tuple key"}, r"key \(1, 2\) of type tuple", id="tuple_key"),
    ],
)
def test_to_json_rejects(obj, match):
    with pytest.raises(TypeError, match=match):
        to_json(obj)
