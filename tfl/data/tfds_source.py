"""Image classification data sets from TensorFlow Datasets (TFDS).

Named `tfds_source` so that it never shadows the `tensorflow_datasets` package.
"""

import difflib
import re
import socket

import numpy as np
import tensorflow as tf

from tfl.config.data_config import check_resize
from tfl.data.image_data import ImageData
from tfl.data.pipeline import build_pipeline
from tfl.data.pipeline import check_batch_size
from tfl.data.pipeline import decode_resized
from tfl.data.pipeline import normalize_image_size

# TFDS downloads from Google Cloud Storage first. Offline, its retries take
# minutes (measured: 3 min 24 s for mnist) before it gives up; one quick
# connection attempt tells sooner.
_DOWNLOAD_HOST = ("storage.googleapis.com", 443)
_REACH_TIMEOUT_S = 5.0

# Without a cache, the shuffle buffer holds encoded images; TFDS shuffles the
# examples when it prepares a data set, so a bounded buffer is enough.
_MAX_UNCACHED_SHUFFLE_BUFFER = 10_000


def from_tfds(
    name,
    *,
    image_size,
    resize="crop",
    data_dir=None,
    train_split="train",
    validation_split="test",
    batch_size=32,
    seed=1337,
    cache=True,
    image_key="image",
    label_key="label",
):
    """Builds image pipelines from a TensorFlow Datasets data set.

    The data set is read from `data_dir`; if it is not prepared there, TFDS is
    asked to download and prepare it, which needs network access.

    Args:
        name: the TFDS name, optionally with a config and version, e.g.
            "tf_flowers" or "cifar10:3.0.2".
        image_size: `(height, width)` the images are resized to (bilinear), or
            one int for a square.
        resize: "crop" (the default) centre-crops each image to the aspect
            ratio of `image_size` before resizing; "stretch" resizes the whole
            image. Give the model's `resize`.
        data_dir: the TFDS data folder; None uses TFDS' default
            (~/tensorflow_datasets).
        train_split: the split to train on; slicing works, e.g. "train[:80%]".
        validation_split: the held-out split, e.g. "test" or "train[80%:]".
        batch_size: examples per batch.
        seed: seed of the shuffle.
        cache: keep the resized images (uint8) in memory.
        image_key: the image feature (a `tfds.features.Image`).
        label_key: the label feature (a `tfds.features.ClassLabel`); its
            names are the class names.

    Returns:
        An `ImageData`.

    Examples:

    >>> data = from_tfds("tf_flowers", image_size=(224, 224),
    ...     train_split="train[:80%]", validation_split="train[80%:]")
    >>> data.class_names[:2]
    ('dandelion', 'daisy')
    """
    import tensorflow_datasets as tfds

    image_size = normalize_image_size(image_size)
    check_resize(resize)
    check_batch_size(batch_size)
    builder = _builder(tfds, name, data_dir)
    _prepare(builder, name, data_dir)
    features = builder.info.features
    _check_features(tfds, features, name, image_key, label_key)
    for argument, split in (("train_split", train_split), ("validation_split", validation_split)):
        _check_split(builder, name, argument, split)
    class_names = tuple(features[label_key].names)
    skip_decoding = {image_key: tfds.decode.SkipDecoding()}

    def read(split):
        examples = builder.as_dataset(split=split, decoders=skip_decoding, shuffle_files=False)
        pairs = examples.map(
            lambda ex: (ex[image_key], tf.cast(ex[label_key], tf.int32)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        return pairs, _count(examples, builder, split)

    def load(contents):
        return decode_resized(contents, image_size, resize)

    def pipeline(pairs, count, shuffle):
        return build_pipeline(
            pairs,
            load,
            num_examples=count,
            batch_size=batch_size,
            seed=seed,
            cache=cache,
            shuffle=shuffle,
            shuffle_buffer=None if cache else min(count, _MAX_UNCACHED_SHUFFLE_BUFFER),
        )

    train_pairs, num_train = read(train_split)
    held_out_pairs, num_validation = read(validation_split)
    validation_labels = np.concatenate(
        list(held_out_pairs.map(lambda image, label: label).batch(4096).as_numpy_iterator())
        or [np.zeros([0], np.int32)]
    )
    return ImageData(
        train=pipeline(train_pairs, num_train, shuffle=True),
        validation=pipeline(held_out_pairs, num_validation, shuffle=False),
        class_names=class_names,
        num_train=num_train,
        num_validation=num_validation,
        image_size=image_size,
        multi_label=False,
        validation_labels=validation_labels,
    )


def _builder(tfds, name, data_dir):
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.DatasetNotFoundError:
        base = re.split(r"[:/]", name)[0]
        close = difflib.get_close_matches(
            base, tfds.list_builders(with_community_datasets=False), n=5, cutoff=0.6
        )
        hint = f" Close matches: {', '.join(close)}." if close else ""
        raise ValueError(
            f"Unknown TFDS data set {name!r}.{hint} The full list: "
            "https://www.tensorflow.org/datasets/catalog/overview"
        ) from None


def _network_error():
    """None if the TFDS download host answers, else the error."""
    try:
        socket.create_connection(_DOWNLOAD_HOST, timeout=_REACH_TIMEOUT_S).close()
        return None
    except OSError as e:
        return e


def _prepare(builder, name, data_dir):
    if builder.is_prepared():
        return
    try:
        unreachable = _network_error()
        if unreachable is not None:
            raise ConnectionError(f"cannot reach {_DOWNLOAD_HOST[0]} to download it ({unreachable})")
        builder.download_and_prepare()
    except Exception as e:
        folder = data_dir or "the default ~/tensorflow_datasets"
        raise FileNotFoundError(
            f"TFDS data set {name!r} is not prepared in {folder} (looked in "
            f"{builder.data_dir}) and preparing it failed: {type(e).__name__}: {e}\n"
            f"On a machine with network access, run `tfds build {name} --data_dir DIR`, "
            "copy DIR here, and pass data_dir=DIR (data.tfds_data_dir in a config)."
        ) from e


def _check_features(tfds, features, name, image_key, label_key):
    for argument, key, kind in (
        ("image_key", image_key, tfds.features.Image),
        ("label_key", label_key, tfds.features.ClassLabel),
    ):
        check_feature(features, name, argument, key, kind)


def check_feature(features, name, argument, key, kind):
    """Checks that TFDS data set `name` has a feature `key` of type `kind`.

    Raises:
        ValueError: naming the data set's features, when there is no `key`.
        TypeError: naming the features of the right kind, when `key` is of
            another kind.
    """
    if key not in features:
        raise ValueError(
            f"TFDS data set {name!r} has no feature {key!r}. Its features: "
            f"{', '.join(features.keys())}. Pass {argument}=..."
        )
    if not isinstance(features[key], kind):
        raise TypeError(
            f"Feature {key!r} of TFDS data set {name!r} is a {type(features[key]).__name__}, "
            f"not a {kind.__name__}. Pass {argument}= one of: "
            f"{', '.join(k for k, f in features.items() if isinstance(f, kind)) or 'none'}."
        )


def _check_split(builder, name, argument, split):
    """Checks the split names in `split` ("train", "train[:80%]", "train+test")."""
    known = list(builder.info.splits)
    if not known:
        return  # split names unknown before preparation (or under tfds.testing.mock_data)
    for part in re.sub(r"\[[^\]]*\]", "", split).split("+"):
        if part.strip() not in known:
            raise ValueError(
                f"TFDS data set {name!r} has no split {part.strip()!r} ({argument}={split!r}). "
                f"Its splits: {', '.join(known)}. Slices work too, e.g. "
                f'train_split="{known[0]}[:80%]", validation_split="{known[0]}[80%:]".'
            )


def _count(examples, builder, split):
    count = int(examples.cardinality())
    if count >= 0:
        return count
    info = builder.info.splits[split]
    if info.num_examples:
        return int(info.num_examples)
    return int(examples.reduce(0, lambda n, _: n + 1))
