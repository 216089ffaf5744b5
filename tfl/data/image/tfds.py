"""Image classification data sets from TensorFlow Datasets (TFDS).

Finding, preparing (with the fast offline failure) and split checking are
shared with the text source in `tfl.data.tfds_builder`.
"""

import numpy as np
import tensorflow as tf

from tfl.data.image.data import ImageData
from tfl.data.image.options import ImageOptions
from tfl.data.image.pipeline import build_pipeline
from tfl.data.image.pipeline import decode_resized
from tfl.data.options import resolve_options
from tfl.data.tfds_builder import check_feature
from tfl.data.tfds_builder import check_split
from tfl.data.tfds_builder import find_builder
from tfl.data.tfds_builder import prepare

# Without a cache, the shuffle buffer holds encoded images; TFDS shuffles the
# examples when it prepares a data set, so a bounded buffer is enough.
_MAX_UNCACHED_SHUFFLE_BUFFER = 10_000


def from_tfds(
    name,
    *,
    data_dir=None,
    train_split="train",
    validation_split="test",
    image_key="image",
    label_key="label",
    options=None,
    **overrides,
):
    """Builds image pipelines from a TensorFlow Datasets data set.

    The data set is read from `data_dir`; if it is not prepared there, TFDS is
    asked to download and prepare it, which needs network access.

    Args:
        name: the TFDS name, optionally with a config and version, e.g.
            "tf_flowers" or "cifar10:3.0.2".
        data_dir: the TFDS data folder; None uses TFDS' default
            (~/tensorflow_datasets).
        train_split: the split to train on; slicing works, e.g. "train[:80%]".
        validation_split: the held-out split, e.g. "test" or "train[80%:]"
            (a split name: the fraction `ImageOptions.validation_split` is
            not used here).
        image_key: the image feature (a `tfds.features.Image`).
        label_key: the label feature (a `tfds.features.ClassLabel`); its
            names are the class names.
        options: an `ImageOptions`; None for the defaults.
        **overrides: fields of `ImageOptions` replacing those of `options`:
            `image_size` (required), `resize`, `batch_size`, `seed` (of the
            shuffle), `cache` (the resized uint8 images).

    Returns:
        An `ImageData`.

    Examples:

    >>> data = from_tfds("tf_flowers", image_size=(224, 224),
    ...     train_split="train[:80%]", validation_split="train[80%:]")
    >>> data.class_names[:2]
    ('dandelion', 'daisy')
    """
    import tensorflow_datasets as tfds

    options = resolve_options(ImageOptions, options, overrides, "from_tfds")
    builder = find_builder(tfds, name, data_dir)
    prepare(builder, name, data_dir)
    features = builder.info.features
    _check_features(tfds, features, name, image_key, label_key)
    for argument, split in (("train_split", train_split), ("validation_split", validation_split)):
        check_split(builder, name, argument, split)
    skip_decoding = {image_key: tfds.decode.SkipDecoding()}

    def read(split):
        examples = builder.as_dataset(split=split, decoders=skip_decoding, shuffle_files=False)
        pairs = examples.map(
            lambda ex: (ex[image_key], tf.cast(ex[label_key], tf.int32)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        return pairs, _count(examples, builder, split)

    train_pairs, num_train = read(train_split)
    held_out_pairs, num_validation = read(validation_split)
    validation_labels = np.concatenate(
        list(held_out_pairs.map(lambda image, label: label).batch(4096).as_numpy_iterator())
        or [np.zeros([0], np.int32)]
    )
    return ImageData(
        train=_pipeline(train_pairs, num_train, options, shuffle=True, classes=len(features[label_key].names)),
        validation=_pipeline(held_out_pairs, num_validation, options, shuffle=False),
        class_names=tuple(features[label_key].names),
        num_train=num_train,
        num_validation=num_validation,
        image_size=options.image_size,
        multi_label=False,
        validation_labels=validation_labels,
    )


def _pipeline(pairs, count, options, shuffle, classes=None):
    return build_pipeline(
        pairs,
        lambda contents: decode_resized(contents, options.image_size, options.resize),
        num_examples=count,
        batch_size=options.batch_size,
        seed=options.seed,
        cache=options.cache,
        shuffle=shuffle,
        shuffle_buffer=None if options.cache else min(count, _MAX_UNCACHED_SHUFFLE_BUFFER),
        balanced_classes=classes if shuffle and options.balanced_sampling else None,
    )


def _check_features(tfds, features, name, image_key, label_key):
    for argument, key, kind in (
        ("image_key", image_key, tfds.features.Image),
        ("label_key", label_key, tfds.features.ClassLabel),
    ):
        check_feature(features, name, argument, key, kind)


def _count(examples, builder, split):
    count = int(examples.cardinality())
    if count >= 0:
        return count
    info = builder.info.splits[split]
    if info.num_examples:
        return int(info.num_examples)
    return int(examples.reduce(0, lambda n, _: n + 1))
