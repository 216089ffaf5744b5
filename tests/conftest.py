"""Shared pytest set-up: markers, quiet TensorFlow logs, seeded randomness,
and the real ImageNet weights and photos of `../shared/data`."""

import os
import shutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds; run by CI.")
    config.addinivalue_line(
        "markers", "large: builds a large model (over 100M parameters); run by CI."
    )
    config.addinivalue_line(
        "markers",
        "real_weights: uses the real ImageNet weights or photos of ../shared/data; "
        "skipped without that folder, required in CI (TFL_REQUIRE_SHARED_DATA=1).",
    )


# The genuine Keras ImageNet weights of MobileNet(alpha=0.25) and the ants-vs-bees
# photos, beside the repository (never copied into it): see ../shared/data/PROVENANCE.md.
SHARED_DATA = Path(os.environ.get("TFL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
REAL_WEIGHTS_FILE = "mobilenet_2_5_224_tf_no_top.h5"


def shared_data(*parts):
    """The path of `parts` under ../shared/data; skips the test when it is missing
    (fails instead under TFL_REQUIRE_SHARED_DATA=1, as in CI)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        reason = (
            f"needs {path}: the real ImageNet weights and photos beside the repository "
            "(../shared/data, see its PROVENANCE.md)"
        )
        if os.environ.get("TFL_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def _imagenet_cache(tmp_path_factory):
    """A Keras home whose `models/` holds the real weights files under Keras' own names."""
    weights = shared_data("weights")
    home = tmp_path_factory.mktemp("keras_home")
    (home / "models").mkdir()
    for file in sorted(weights.glob("*.h5")):
        shutil.copy(file, home / "models" / file.name)
    return home


@pytest.fixture
def imagenet_home(_imagenet_cache, monkeypatch):
    """`weights="imagenet"` works offline through Keras' own loading code, for the
    backbones whose files ../shared/data holds (`mobilenet_025` at 224 px, or at
    any size Keras loads the 224 file for). Returns the Keras home folder."""
    import keras

    monkeypatch.setenv("KERAS_HOME", str(_imagenet_cache))
    monkeypatch.setattr(keras.src.backend.config, "_KERAS_DIR", str(_imagenet_cache))
    return _imagenet_cache


@pytest.fixture(scope="session")
def hymenoptera():
    """The ants-vs-bees photos: `train/` (123 ants, 121 bees) and `val/` (70, 83)."""
    return shared_data("hymenoptera")


def pytest_collection_modifyitems(config, items):
    real = 0
    for item in items:
        if {"imagenet_home", "hymenoptera"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.real_weights)
            real += 1
    # .ci/run sets TFL_MIN_REAL_WEIGHTS_TESTS: a renamed fixture would otherwise drop the
    # image-transfer tests on real weights silently, and the run would still pass.
    expected = int(os.environ.get("TFL_MIN_REAL_WEIGHTS_TESTS", "0"))
    if real < expected and items:
        # One failing test rather than a collection error, which pytest-xdist turns into an INTERNALERROR.
        config._tfl_too_few_real = (
            f"{real} tests use the real weights or photos of ../shared/data (fixtures imagenet_home, "
            f"hymenoptera), expected at least TFL_MIN_REAL_WEIGHTS_TESTS={expected}: a fixture was "
            "renamed or the tests were deselected. Run the whole suite, or unset TFL_MIN_REAL_WEIGHTS_TESTS."
        )
        items[0].fixturenames.insert(0, "_too_few_real_weights_tests")


@pytest.fixture
def _too_few_real_weights_tests(request):
    pytest.fail(request.config._tfl_too_few_real, pytrace=False)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same seed and a clean Keras session."""
    import keras

    keras.backend.clear_session(free_memory=False)  # a forced gc.collect() costs 0.16 s a test
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture
def tfds_mock(monkeypatch):
    """`tfds.testing.mock_data`, with tfl's download-host check turned off:
    mocked data needs no download. Usage: `with tfds_mock(num_examples=4): ...`."""
    import tensorflow_datasets as tfds

    from tfl.data import tfds_builder

    monkeypatch.setattr(tfds_builder, "network_error", lambda: None)
    return tfds.testing.mock_data


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """Two classes of 16x16 PNGs: dark and bright."""
    import numpy as np
    import tensorflow as tf

    root = tmp_path_factory.mktemp("images")
    rng = np.random.RandomState(0)
    for name, low in (("dark", 0), ("bright", 140)):
        os.makedirs(root / name)
        for i in range(8):
            pixels = rng.randint(low, low + 100, (16, 16, 3)).astype("uint8")
            (root / name / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    return root

