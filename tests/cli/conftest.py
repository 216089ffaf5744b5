"""Fixtures shared by the command-line tests."""

import os

import numpy as np
import pytest
import tensorflow as tf


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """Two classes of 16x16 PNGs: dark and bright."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.RandomState(0)
    for name, low in (("dark", 0), ("bright", 140)):
        os.makedirs(root / name)
        for i in range(8):
            pixels = rng.randint(low, low + 100, (16, 16, 3)).astype("uint8")
            (root / name / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    return root
