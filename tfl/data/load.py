"""Entry points from a config and for prediction: `load_data`, `load_text_data`,
`detect_task` and `load_images`."""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tfl.config.data_config import check_resize
from tfl.data.image.arrays import from_arrays
from tfl.data.image.digits import load_digits
from tfl.data.image.directory import from_directory
from tfl.data.image.files import describe_bad_files
from tfl.data.image.files import find_bad_files
from tfl.data.image.options import ImageOptions
from tfl.data.image.pipeline import AUTOTUNE
from tfl.data.image.pipeline import load_image_file
from tfl.data.image.pipeline import normalize_image_size
from tfl.data.image.tfds import from_tfds
from tfl.data.options import PipelineOptions
from tfl.data.text.arrays import from_texts
from tfl.data.text.file import TEXT_FILE_EXTENSIONS
from tfl.data.text.file import from_text_file
from tfl.data.text.file import is_text_file
from tfl.data.text.options import TextOptions
from tfl.data.text.tfds import from_tfds_text
from tfl.data.text.tfds import holds_text
from tfl.data.text.tweets import load_tweets
from tfl.data.tfds_builder import find_builder

DIGITS = "digits"
TWEETS = "tweets"
TFDS_PREFIX = "tfds:"


def load_data(data_config, image_size, resize="crop"):
    """Builds the training and held-out pipelines that a `DataConfig` describes.

    Args:
        data_config: a `tfl.config.DataConfig`. Its `source` is a folder of
            class folders, `"tfds:NAME"` for a TensorFlow Datasets data set, or
            `"digits"` for the embedded demo digits (classes "0".."9").
        image_size: `(height, width)` the images are resized to, or one int.
        resize: "crop" (centre-crop each image to the aspect ratio of
            `image_size`, then resize) or "stretch" (resize the whole image):
            `ModelConfig.resize`, or a trained model's `resize`.

    Returns:
        An `ImageData`.

    Examples:

    >>> data = load_data(DataConfig(source="digits", batch_size=64), (32, 32))
    >>> data.class_names[:3]
    ('0', '1', '2')
    """
    return with_determinism(_load_images(data_config, image_size, resize), data_config.deterministic)


def with_determinism(data, deterministic):
    """`data` with `tf.data`'s `deterministic` option set on both pipelines.

    False lets parallel maps hand over whichever element is ready first.
    """
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    return dataclasses.replace(
        data,
        train=data.train.with_options(options),
        validation=None if data.validation is None else data.validation.with_options(options),
    )


def _load_images(data_config, image_size, resize):
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
    options = image_options(c, image_size, resize)
    if source == DIGITS:
        images, labels = load_digits()
        return from_arrays(
            images, labels, class_names=tuple(str(i) for i in range(10)), options=options
        )
    if is_tfds:
        return from_tfds(
            source[len(TFDS_PREFIX) :],
            data_dir=c.tfds_data_dir,
            train_split=c.tfds_train_split,
            validation_split=c.tfds_validation_split,
            options=options,
        )
    return from_directory(source, validation_path=c.validation_source, options=options)


def image_options(data_config, image_size, resize="crop"):
    """The `ImageOptions` a `DataConfig` describes, for images of `image_size`.

    Examples:

    >>> image_options(DataConfig(batch_size=64), (32, 32)).batch_size
    64
    """
    return ImageOptions(
        **_pipeline_fields(data_config),
        image_size=image_size,
        resize=resize,
        skip_bad_files=data_config.skip_bad_files,
    )


def text_options(data_config, preprocessor):
    """The `TextOptions` a `DataConfig` describes; `skip_bad_files` skips bad rows.

    Examples:

    >>> text_options(DataConfig(trim_padding=False), None).trim_padding
    False
    """
    c = data_config
    return TextOptions(
        **_pipeline_fields(c),
        preprocessor=preprocessor,
        skip_bad_rows=c.skip_bad_files,
        group_by_length=c.group_by_length,
        trim_padding=c.trim_padding,
    )


def _pipeline_fields(data_config):
    """The `PipelineOptions` fields of a `DataConfig`, which has fields of the same names."""
    return {f.name: getattr(data_config, f.name) for f in dataclasses.fields(PipelineOptions)}


def detect_task(source, *, tfds_data_dir=None):
    """Tells whether a data source holds images or text.

    Args:
        source: a `DataConfig.source`: a `.csv`, `.tsv` or `.jsonl` file or
            `"tweets"` (text); a folder or `"digits"` (images); or
            `"tfds:NAME"`, text when the data set has a `tfds.features.Text`
            feature and no image (known without downloading it; cifar10's
            "id" is a Text feature, yet cifar10 is image data).
        tfds_data_dir: `data_dir` for TensorFlow Datasets.

    Returns:
        "text" or "image".

    Examples:

    >>> detect_task("reviews.csv"), detect_task("tfds:imdb_reviews"), detect_task("digits")
    ('text', 'text', 'image')
    """
    if not source:
        raise ValueError(f"data.source is not set. {_SOURCES}")
    source = os.fspath(source)
    if source in (TWEETS, DIGITS):
        return "text" if source == TWEETS else "image"
    if source.startswith(TFDS_PREFIX):
        import tensorflow_datasets as tfds

        name = source[len(TFDS_PREFIX) :]
        features = find_builder(tfds, name, tfds_data_dir).info.features
        return "text" if holds_text(tfds, features) else "image"
    if is_text_file(source):
        return "text"
    if os.path.isdir(source):
        return "image"
    if not os.path.exists(source):
        raise FileNotFoundError(f"data.source not found: {source}. {_SOURCES}")
    raise ValueError(
        f"Cannot tell what data {source} holds: it is a file, but not {', '.join(TEXT_FILE_EXTENSIONS)}. {_SOURCES}"
    )


_SOURCES = (
    f"Give a folder with one sub-folder of images per class, a "
    f"{'/'.join(TEXT_FILE_EXTENSIONS)} text file, '{TFDS_PREFIX}NAME' for a TensorFlow "
    f"Datasets data set, or '{DIGITS}' / '{TWEETS}' for the demo data."
)


def load_text_data(data_config, preprocessor):
    """Builds the training and held-out text pipelines that a `DataConfig` describes.

    Args:
        data_config: a `tfl.config.DataConfig`. Its `source` is a `.csv`,
            `.tsv` or `.jsonl` file (columns `text_column`, `label_column`,
            `text_pair_column`; `label_separator` for multi-label cells),
            `"tfds:NAME"` for a TensorFlow Datasets text data set, or
            `"tweets"` for the demo's tweets. `skip_bad_files` skips bad rows.
            For TFDS, the default `text_column` ("text") means the data set's
            only text feature, whatever its name.
        preprocessor: a KerasHub `TextClassifierPreprocessor`, or None for
            raw strings.

    Returns:
        A `TextData`.

    Examples:

    >>> config = DataConfig(source="reviews.csv", text_column="review", label_column="stars")
    >>> data = load_text_data(config, preprocessor)
    >>> data.class_names, data.num_train, data.num_validation
    (('1', '2', '3', '4', '5'), 15, 5)
    """
    return with_determinism(_load_text(data_config, preprocessor), data_config.deterministic)


def _load_text(data_config, preprocessor):
    c = data_config
    source = c.source
    if not source:
        raise ValueError(
            f"data.source is not set. Give a {'/'.join(TEXT_FILE_EXTENSIONS)} file, "
            f"'{TFDS_PREFIX}NAME' for a TensorFlow Datasets data set, or '{TWEETS}'."
        )
    source = os.fspath(source)
    is_tfds = source.startswith(TFDS_PREFIX)
    if c.validation_source is not None and (source == TWEETS or is_tfds):
        instead = ", and set data.tfds_validation_split" if is_tfds else ""
        raise ValueError(
            f"data.validation_source is a held-out text file, for file sources only; source "
            f"is {source!r}. Remove validation_source{instead}."
        )
    if c.label_separator is not None and (source == TWEETS or is_tfds):
        raise ValueError(
            f"data.label_separator splits label cells of text files; source is {source!r}. Remove label_separator."
        )
    options = text_options(c, preprocessor)
    if source == TWEETS:
        tweets = load_tweets()
        return from_texts(tweets.texts, tweets.labels, options=options)
    if is_tfds:
        default_text_column = _default(c, "text_column")
        return from_tfds_text(
            source[len(TFDS_PREFIX) :],
            text_column=None if c.text_column == default_text_column else c.text_column,
            text_pair_column=c.text_pair_column,
            label_column=c.label_column,
            data_dir=c.tfds_data_dir,
            train_split=c.tfds_train_split,
            validation_split=c.tfds_validation_split,
            options=options,
        )
    if source == DIGITS or os.path.isdir(source):
        raise ValueError(
            f"data.source {source!r} holds images, not text. Set task: image (or leave task "
            "unset to detect it), or give a text source."
        )
    return from_text_file(
        source,
        text_column=c.text_column,
        label_column=c.label_column,
        text_pair_column=c.text_pair_column,
        label_separator=c.label_separator,
        validation_path=c.validation_source,
        options=options,
    )


def _default(config, field):
    return next(f.default for f in dataclasses.fields(config) if f.name == field)


def load_images(paths, image_size, resize="crop"):
    """Reads image files for prediction, decoded and resized like training data.

    Args:
        paths: one file path or a list of them (see `list_image_files` for
            the images in a folder).
        image_size: `(height, width)` the images are resized to, or one int.
        resize: "crop" or "stretch": the model's `resize` (`model.resize`).

    Returns:
        A float32 tensor `[N, height, width, 3]` with values in [0, 255].

    Examples:

    >>> images = load_images(["cat.jpg", "dog.png"], image_size=(224, 224))
    >>> images.shape
    TensorShape([2, 224, 224, 3])
    """
    image_size = normalize_image_size(image_size)
    check_resize(resize)
    paths = [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else [os.fspath(p) for p in paths]
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
    dataset = dataset.map(lambda p: load_image_file(p, image_size, resize), num_parallel_calls=AUTOTUNE)
    batches = list(dataset.batch(256).as_numpy_iterator())
    return tf.constant(np.concatenate(batches).astype(np.float32))
