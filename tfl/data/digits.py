"""The embedded demo data: 8x8 handwritten digits shipped inside scikit-learn."""

import numpy as np


def load_digits():
    """Returns the UCI handwritten digits that ship inside the scikit-learn wheel.

    1797 grey 8x8 images of the digits 0 to 9; no download is needed.

    Returns:
        `(images, labels)`: uint8 images of shape (N, 8, 8) scaled from the
        original 0..16 to 0..255, and int64 labels 0..9 of shape (N,).

    Examples:

    >>> images, labels = load_digits()
    >>> images.shape, int(images.max())
    ((1797, 8, 8), 255)
    """
    try:
        from sklearn import datasets
    except ImportError:
        raise ImportError(
            'The demo digits come with scikit-learn, which is not installed. '
            'Install it with: pip install "tfl[demo]"'
        ) from None
    digits = datasets.load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    return images, digits.target.astype(np.int64)
