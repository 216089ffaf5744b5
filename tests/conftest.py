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

    keras.backend.clear_session()
    keras.utils.set_random_seed(1234)
    yield
