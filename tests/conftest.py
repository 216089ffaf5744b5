"""Shared pytest set-up: markers, quiet TensorFlow logs, seeded randomness."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds; run by CI.")
    config.addinivalue_line(
        "markers", "large: builds a large model (over 100M parameters); run by CI."
    )


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

    from tfl.data import tfds_source

    monkeypatch.setattr(tfds_source, "_network_error", lambda: None)
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
