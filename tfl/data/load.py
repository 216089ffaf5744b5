"""Entry points from a config and for prediction: `load_data` and `load_images`."""

import os

import numpy as np
import tensorflow as tf

from tfl.data.arrays import from_arrays
from tfl.data.digits import load_digits
from tfl.data.directory import from_directory
from tfl.data.image_files import describe_bad_files, find_bad_files
from tfl.data.pipeline import AUTOTUNE, load_image_file, normalize_image_size
from tfl.data.tfds_source import from_tfds

DIGITS = "digits"
TFDS_PREFIX = "tfds:"


def load_data(data_config, image_size):
    """Builds the training and held-out pipelines that a `DataConfig` describes.

    Args:
        data_config: a `tfl.config.DataConfig`. Its `source` is a folder of
            class folders, `"tfds:NAME"` for a TensorFlow Datasets data set, or
            `"digits"` for the embedded demo digits (classes "0".."9").
        image_size: `(height, width)` the images are resized to, or one int.

    Returns:
        An `ImageData`.

    Examples:

    >>> data = load_data(DataConfig(source="digits", batch_size=64), (32, 32))
    >>> data.class_names[:3]
    ('0', '1', '2')
    """
    c = data_config
    source = c.source
    if not source:
        raise ValueError(
            "data.source is not set. Give a folder with one sub-folder per class, "
            f"'{TFDS_PREFIX}NAME' for a TensorFlow Datasets data set, or '{DIGITS}'."
        )
    is_tfds = source.startswith(TFDS_PREFIX)
    if c.validation_source is not None and (source == DIGITS or is_tfds):
        instead = ", and set data.tfds_validation_split" if is_tfds else ""
        raise ValueError(
            f"data.validation_source is a folder of held-out images, for folder sources "
            f"only; source is {source!r}. Remove validation_source{instead}."
        )
    common = dict(image_size=image_size, batch_size=c.batch_size, seed=c.seed, cache=c.cache)
    if source == DIGITS:
        images, labels = load_digits()
        return from_arrays(
            images,
            labels,
            class_names=tuple(str(i) for i in range(10)),
            validation_split=c.validation_split,
            **common,
        )
    if is_tfds:
        return from_tfds(
            source[len(TFDS_PREFIX) :],
            data_dir=c.tfds_data_dir,
            train_split=c.tfds_train_split,
            validation_split=c.tfds_validation_split,
            **common,
        )
    return from_directory(
        source,
        validation_path=c.validation_source,
        validation_split=c.validation_split,
        skip_bad_files=c.skip_bad_files,
        **common,
    )


def load_images(paths, image_size):
    """Reads image files for prediction, decoded and resized like training data.

    Args:
        paths: one file path or a list of them (see `list_image_files` for
            the images in a folder).
        image_size: `(height, width)` the images are resized to, or one int.

    Returns:
        A float32 tensor `[N, height, width, 3]` with values in [0, 255].

    Examples:

    >>> images = load_images(["cat.jpg", "dog.png"], image_size=(224, 224))
    >>> images.shape
    TensorShape([2, 224, 224, 3])
    """
    image_size = normalize_image_size(image_size)
    paths = [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else [
        os.fspath(p) for p in paths
    ]
    if not paths:
        raise ValueError("load_images needs at least one image path. Received: paths=[]")
    for path in paths:
        if os.path.isdir(path):
            raise ValueError(
                f"{path} is a folder; load_images reads image files. "
                "Pass list_image_files(folder) for the images in it."
            )
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Image file not found: {path}")
    bad = find_bad_files(paths, check_extension=False)
    if bad:
        raise ValueError(f"Cannot read {len(bad)} of the images:\n{describe_bad_files(bad)}")
    dataset = tf.data.Dataset.from_tensor_slices(paths)
    dataset = dataset.map(lambda p: load_image_file(p, image_size), num_parallel_calls=AUTOTUNE)
    batches = list(dataset.batch(256).as_numpy_iterator())
    return tf.constant(np.concatenate(batches).astype(np.float32))
