"""Every public name's `Examples:` block runs, with doctest, against small fixtures.

The public names are each subpackage's `__all__` and the top-level entry points
of `tfl` (constants aside: they are documented in their package's docstring).
A name whose example needs the network or a large model is in `SKIP`, with the
reason; at least 80% of the names' examples must run and pass.
"""

import doctest
import importlib
import inspect
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfl
from tests.text_fakes import tiny_encoder

SUBPACKAGES = ("config", "data", "backbones", "model", "train", "adapt", "evaluate", "export")
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
MIN_RUNNING = 0.8

SKIP = {}



def _public():
    """`(qualified name, object, package namespace)` for each public class and function, once each."""
    seen, found = set(), []
    for package in SUBPACKAGES:
        module = importlib.import_module(f"tfl.{package}")
        namespace = {name: getattr(module, name) for name in module.__all__}
        for name in module.__all__:
            obj = getattr(module, name)
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and id(obj) not in seen:
                seen.add(id(obj))
                found.append((f"tfl.{package}.{name}", obj, namespace))
    for name, module_name in sorted(tfl._LAZY.items()):
        obj = getattr(tfl, name)
        if id(obj) not in seen:
            seen.add(id(obj))
            found.append((f"{module_name}.{name}", obj, {name: obj}))
    return found


PUBLIC = _public()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder holding `flowers/` (two classes of three 32x32 PNGs) and `notes.csv`."""
    root = tmp_path_factory.mktemp("examples")
    rng = np.random.default_rng(0)
    for class_name in ("daisy", "rose"):
        folder = root / "flowers" / class_name
        folder.mkdir(parents=True)
        for i in range(3):
            image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            keras.utils.save_img(folder / f"{i}.png", image)
    (root / "notes.csv").write_text("text,label\nthe cat sat,pos\na bad film,neg\ngood movie,pos\nawful plot,neg\n")
    return root


@pytest.fixture(scope="module")
def fixtures(workdir):
    """The names every example may use."""
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    labels = np.array([0, 1] * 4)
    data = tfl.data.from_arrays(
        images, labels, class_names=["cat", "dog"], image_size=32, batch_size=4, validation_split=0.25
    )
    model = tfl.build_model(tfl.ModelConfig(backbone="mobilenet_v3_small", weights=None, image_size=32), ["cat", "dog"])
    encoder, preprocessor = tiny_encoder()
    return {
        "os": os,
        "np": np,
        "tf": tf,
        "keras": keras,
        "tfl": tfl,
        "images": images,
        "labels": labels,
        "data": data,
        "model": model,
        "encoder": encoder,
        "preprocessor": preprocessor,
    }


RESULTS = {}


@pytest.mark.parametrize("name, obj, namespace", PUBLIC, ids=[name for name, _, _ in PUBLIC])
def test_example_runs(name, obj, namespace, fixtures, workdir, monkeypatch):
    if name in SKIP:
        RESULTS[name] = "skipped"
        pytest.skip(SKIP[name])
    monkeypatch.chdir(workdir)
    globs = {**namespace, **fixtures}
    tests = doctest.DocTestFinder(recurse=False).find(obj, name, globs=globs)
    examples = sum(len(test.examples) for test in tests)
    RESULTS[name] = "missing"
    assert examples, f"{name} has no example"
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    for test in tests:
        runner.run(test)
    RESULTS[name] = "failed" if runner.failures else "passed"
    assert runner.failures == 0, f"{name}: {runner.failures} of {examples} examples failed"


def test_most_examples_run():
    missing = [name for name, _, _ in PUBLIC if name not in RESULTS]
    if missing:
        pytest.skip(f"run the whole file: {len(missing)} names were not collected")
    passed = sum(result == "passed" for result in RESULTS.values())
    assert passed / len(PUBLIC) >= MIN_RUNNING, f"{passed} of {len(PUBLIC)} examples pass"
