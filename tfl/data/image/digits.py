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


def recolour_digits(images, seed):
    """Recolours grey digits the way MNIST-M recolours MNIST, without its photo patches.

    Each image gets a random background colour and a random, brighter stroke
    colour (contrast 40 to 90 of 255 instead of 255), plus Gaussian pixel
    noise (sigma 12): the digit shapes and labels are unchanged, the
    appearance is not. The target domain of the domain-adaptation demo and
    benchmark.

    Args:
        images: grey uint8 images, shape (N, H, W), values 0..255.
        seed: seed of the colours and the noise.

    Returns:
        float32 RGB images of shape (N, H, W, 3), values in [0, 255].

    Examples:

    >>> images, labels = load_digits()
    >>> recolour_digits(images[:2], seed=0).shape
    (2, 8, 8, 3)
    """
    rng = np.random.default_rng(seed)
    ink = np.asarray(images)[..., None].astype("float32") / 255.0
    background = rng.uniform(40, 160, (len(ink), 1, 1, 3))
    stroke = background + rng.uniform(40, 90, (len(ink), 1, 1, 3))
    coloured = background + (stroke - background) * ink + rng.normal(0, 12, ink.shape[:3] + (3,))
    return np.clip(coloured, 0, 255).astype("float32")
