"""tfl.io: each writer leaves the old file (or no folder) or the new one, never a part,
and no temporary name behind; JSON is plain and round-trips; docstring examples run."""

import doctest
import json
import os
import pathlib
import warnings

import keras
import numpy as np
import pytest

from tfl import io as tfl_io
from tfl.io import remove_stale_partials
from tfl.io import save_keras
from tfl.io import save_to_path
from tfl.io import to_json
from tfl.io import write_atomically
from tfl.io import write_bytes
from tfl.io import write_folder
from tfl.io import write_json
from tfl.io import write_text

OLD = '{"old": true}\n'


class Simulated(Exception):
    pass


def _fail(*args, **kwargs):
    raise Simulated("simulated failure while writing")


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
    assert "NaN" not in text and "Infinity" not in text and text.endswith("}\n")
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


def test_write_json_round_trips_plain_values(tmp_path):
    obj = {"name": "flowers", "sizes": [1, 2.5, None], "nested": {"ok": True, "text": "é ✓"}}
    assert json.loads(write_json(tmp_path / "a.json", obj).read_text(encoding="utf-8")) == obj


def test_write_json_replaces_an_existing_file_and_creates_folders(tmp_path):
    path = tmp_path / "new" / "folder" / "report.json"
    write_json(path, {"run": 1})
    write_json(path, {"run": 2})
    assert json.loads(path.read_text()) == {"run": 2}
    assert os.listdir(path.parent) == ["report.json"]


def test_written_files_have_the_umask_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        path = write_json(tmp_path / "report.json", {})
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_write_json_unserialisable_value_leaves_the_old_file(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(OLD)
    with pytest.raises(TypeError, match="type object to JSON"):
        write_json(path, {"fine": 1.0, "bad": object()})
    assert path.read_text() == OLD
    assert os.listdir(tmp_path) == ["report.json"]


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_write_json_failure_while_writing_leaves_the_old_file(tmp_path, monkeypatch, failing):
    path = tmp_path / "report.json"
    path.write_text(OLD)
    monkeypatch.setattr(tfl_io.os, failing, _fail)
    with pytest.raises(Simulated):
        write_json(path, {"new": True})
    monkeypatch.undo()
    assert path.read_text() == OLD
    assert os.listdir(tmp_path) == ["report.json"]


def _half_then_fail(file):
    file.write(b'{"new": ')
    _fail()


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda path: write_atomically(path, _half_then_fail), id="write_atomically"),
        pytest.param(lambda path: save_to_path(path, lambda t: (pathlib.Path(t).write_text("half"), _fail())), id="save_to_path"),
    ],
)
def test_a_writer_failing_midway_leaves_the_old_file_and_no_temporary_file(tmp_path, write):
    path = tmp_path / "state.json"
    path.write_text(OLD)
    with pytest.raises(Simulated):
        write(path)
    assert path.read_text() == OLD
    assert os.listdir(tmp_path) == ["state.json"]


def test_the_new_file_is_written_under_another_name_until_complete(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    seen = []

    def write(file):
        file.write(b"new")
        seen.append((path.read_text(), sorted(os.listdir(tmp_path))))

    write_atomically(path, write)
    (old_text, names), = seen
    assert old_text == "old" and len(names) == 2 and names[0].startswith(".a.txt.") and names[0].endswith(".tmp")
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["a.txt"]


def test_write_bytes_and_write_text(tmp_path):
    assert write_bytes(tmp_path / "b.bin", b"\x00\xff").read_bytes() == b"\x00\xff"
    assert write_text(tmp_path / "t.md", "é\r\nline\n").read_bytes() == "é\r\nline\n".encode("utf-8")
    assert sorted(os.listdir(tmp_path)) == ["b.bin", "t.md"]


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


def _tiny_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def test_save_keras_of_a_tiny_model_loads_back(tmp_path):
    model = _tiny_model()
    path = save_keras(model, str(tmp_path / "model.keras"))
    loaded = keras.saving.load_model(path)
    x = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
    assert os.listdir(tmp_path) == ["model.keras"]


def test_a_compiled_model_that_never_trained_loads_without_an_optimizer_warning(tmp_path):
    model = _tiny_model()
    model.compile("adam", "mse")  # as after a linear probe: compiled, no step taken
    path = save_keras(model, str(tmp_path / "model.keras"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = keras.saving.load_model(path)
    assert not [w for w in caught if "optimizer" in str(w.message)], [str(w.message) for w in caught]
    assert all(np.all(v.numpy() == 0) for v in loaded.optimizer.variables[2:])  # a fresh state, not a trained one


def test_save_keras_failing_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "model.keras"
    path.write_text("old model")
    model = _tiny_model()
    monkeypatch.setattr(tfl_io.os, "replace", _fail)
    with pytest.raises(Simulated):
        save_keras(model, str(path))
    monkeypatch.undo()
    assert path.read_text() == "old model" and os.listdir(tmp_path) == ["model.keras"]


def _two_files(folder):
    os.makedirs(folder)
    pathlib.Path(folder, "a.txt").write_text("a")
    pathlib.Path(folder, "b.txt").write_text("b")


def test_write_folder_appears_complete(tmp_path):
    target = tmp_path / "models" / "1"
    assert write_folder(target, _two_files) == target
    assert sorted(os.listdir(target)) == ["a.txt", "b.txt"] and os.listdir(tmp_path / "models") == ["1"]


def test_write_folder_failing_midway_leaves_nothing(tmp_path):
    def half(folder):
        os.makedirs(folder)
        pathlib.Path(folder, "a.txt").write_text("a")
        _fail()

    with pytest.raises(Simulated):
        write_folder(tmp_path / "1", half)
    assert os.listdir(tmp_path) == []


def test_write_folder_never_replaces_a_folder_that_appeared_meanwhile(tmp_path):
    target = tmp_path / "1"

    def racing(folder):
        _two_files(folder)
        os.makedirs(target / "inside")  # another writer got there first

    with pytest.raises(OSError):
        write_folder(target, racing)
    assert os.listdir(target) == ["inside"] and os.listdir(tmp_path) == ["1"]


def test_remove_stale_partials_leaves_recent_ones_and_other_entries(tmp_path):
    for name in (".partial-1-old", ".partial-2-new", "1", ".hidden"):
        os.makedirs(tmp_path / name)
    os.utime(tmp_path / ".partial-1-old", (0, 0))
    assert remove_stale_partials(tmp_path) == [os.path.join(tmp_path, ".partial-1-old")]
    assert sorted(os.listdir(tmp_path)) == [".hidden", ".partial-2-new", "1"]


# write_json and to_json are public (tfl.evaluate): tests/test_docstring_examples.py runs theirs.
EXAMPLES = [
    tfl_io.write_atomically,
    tfl_io.write_bytes,
    tfl_io.write_text,
    tfl_io.save_keras,
    tfl_io.write_folder,
    tfl_io.fsync_tree,
]


@pytest.mark.parametrize("function", EXAMPLES, ids=lambda f: f.__name__)
def test_docstring_example_runs(function, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    globs = {**function.__globals__, "keras": keras}
    (test,) = doctest.DocTestFinder().find(function, globs=globs)
    assert test.examples, f"{function.__name__} has no example"
    result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test)
    assert result.failed == 0
