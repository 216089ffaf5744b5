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
from tests.small_backbone import SMALL_BACKBONE
from tests.text_fakes import tiny_encoder

SUBPACKAGES = ("config", "data", "backbones", "model", "train", "adapt", "evaluate", "attribution", "export")
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
MIN_RUNNING = 0.8

NETWORK = "downloads a dataset or a preset: needs the network"
SKIP = {
    "tfl.data.from_tfds": NETWORK,
    "tfl.data.from_tfds_text": NETWORK,
}


def _public():
    """`(qualified name, object, namespace)` for each public class and function, once each.

    The namespace holds every public name of the subpackages; where two share a
    name, the object's own package's wins.
    """
    modules = [importlib.import_module(f"tfl.{package}") for package in SUBPACKAGES]
    every_name = {name: getattr(module, name) for module in modules for name in module.__all__}
    seen, found = set(), []
    for package, module in zip(SUBPACKAGES, modules):
        namespace = {**every_name, **{name: getattr(module, name) for name in module.__all__}}
        for name in module.__all__:
            obj = getattr(module, name)
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and id(obj) not in seen:
                seen.add(id(obj))
                found.append((f"tfl.{package}.{name}", obj, namespace))
    for name, module_name in sorted(tfl._LAZY.items()):
        obj = getattr(tfl, name)
        if id(obj) not in seen:
            seen.add(id(obj))
            own = {other: getattr(tfl, other) for other, module in tfl._LAZY.items() if module == module_name}
            found.append((f"{module_name}.{name}", obj, {**every_name, **own}))
    return found


PUBLIC = _public()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder of small inputs: image folders, two images and a CSV file.

    `flowers/` (daisy, roses, tulips: 3 PNGs each), `test/` (cat, dog: 3
    each), `to_predict/` (2 PNGs), `cat.jpg`, `dog.png` (all 32x32), and
    `reviews.csv` (columns `review`, `stars`: 4 rows of each of 1..5 stars).
    """
    root = tmp_path_factory.mktemp("examples")
    rng = np.random.default_rng(0)

    def image(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        keras.utils.save_img(path, rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))

    for folder, class_names, count in (("flowers", ("daisy", "roses", "tulips"), 3), ("test", ("cat", "dog"), 3)):
        for class_name in class_names:
            for i in range(count):
                image(root / folder / class_name / f"{i}.png")
    for path in ("to_predict/a.png", "to_predict/b.png", "cat.jpg", "dog.png"):
        image(root / path)
    words = ["the cat sat on the mat", "a good movie", "very boring plot", "not really fun", "great acting"]
    rows = [f"{words[(i + stars) % 5]},{stars}" for stars in range(1, 6) for i in range(4)]
    (root / "reviews.csv").write_text("review,stars\n" + "\n".join(rows) + "\n")
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
    model = tfl.build_model(tfl.ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), ["cat", "dog"])
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


@pytest.fixture(scope="module")
def exported(fixtures, workdir):
    """`saved_models/tiny/1`: the tiny model exported once, for the examples of `tfl.export`."""
    return tfl.export_model(fixtures["model"], "tiny", base=str(workdir / "saved_models"))


RESULTS = {}


@pytest.mark.parametrize("name, obj, namespace", PUBLIC, ids=[name for name, _, _ in PUBLIC])
def test_example_runs(name, obj, namespace, fixtures, workdir, monkeypatch, request):
    if name in SKIP:
        RESULTS[name] = "skipped"
        pytest.skip(SKIP[name])
    if name.startswith("tfl.export."):
        request.getfixturevalue("exported")
    monkeypatch.chdir(workdir)
    # An example may register a backbone (register_backbone's does): the registry is set back after it.
    from tfl.backbones import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_BY_KEY", dict(registry._BY_KEY))
    globs = {**namespace, **fixtures}
    tests = doctest.DocTestFinder(recurse=False).find(obj, name, globs=globs)
    examples = sum(len(test.examples) for test in tests)
    RESULTS[name] = "missing"
    assert examples, f"{name} has no example"
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    interactive = keras.utils.is_interactive_logging_enabled()
    keras.utils.disable_interactive_logging()  # progress bars would print into the examples' output
    try:
        for test in tests:
            runner.run(test)
    finally:
        if interactive:
            keras.utils.enable_interactive_logging()
    RESULTS[name] = "failed" if runner.failures else "passed"
    assert runner.failures == 0, f"{name}: {runner.failures} of {examples} examples failed"


def test_most_examples_run():
    missing = [name for name, _, _ in PUBLIC if name not in RESULTS]
    if missing:
        pytest.skip(f"run the whole file: {len(missing)} names were not collected")
    passed = sum(result == "passed" for result in RESULTS.values())
    assert passed / len(PUBLIC) >= MIN_RUNNING, f"{passed} of {len(PUBLIC)} examples pass"
