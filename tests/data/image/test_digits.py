import sys

import numpy as np
import pytest

from tfl.data import load_digits


def test_digits_are_uint8_images_scaled_to_0_255_with_ten_classes():
    images, labels = load_digits()

    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert (images.min(), images.max()) == (0, 255)
    assert labels.shape == (1797,)
    assert sorted(np.unique(labels)) == list(range(10))


def test_missing_scikit_learn_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn` fail

    with pytest.raises(ImportError, match=r'pip install "tfl\[demo\]"'):
        load_digits()
