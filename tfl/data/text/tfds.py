"""Text classification data sets from TensorFlow Datasets (TFDS), e.g. imdb_reviews.

Finding, preparing (with the fast offline failure) and split checking are
shared with the image source in `tfl.data.tfds_builder`.
"""

import numpy as np
import tensorflow as tf

from tfl.data.options import resolve_options
from tfl.data.text.build import build_text_data
from tfl.data.text.options import TextOptions
from tfl.data.text.rows import TextRows
from tfl.data.tfds_builder import check_feature
from tfl.data.tfds_builder import check_split
from tfl.data.tfds_builder import find_builder
from tfl.data.tfds_builder import prepare

_READ_BATCH = 4096


def from_tfds_text(
    name,
    *,
    text_column=None,
    text_pair_column=None,
    label_column="label",
    data_dir=None,
    train_split="train",
    validation_split="test",
    options=None,
    **overrides,
):
    """Builds text pipelines from a TensorFlow Datasets text data set.

    The data set is read from `data_dir`; if it is not prepared there, TFDS is
    asked to download and prepare it, which needs network access (offline,
    this fails at once with the `tfds build` command to run elsewhere). The
    texts of both splits are read into memory and checked like any other
    text source.

    Args:
        name: the TFDS name, optionally with a config and version, e.g.
            "imdb_reviews", "ag_news_subset" or "glue/mrpc".
        text_column: the text feature (a `tfds.features.Text`). None uses the
            data set's only text feature (besides `text_pair_column`); a data
            set with several, such as ag_news_subset (title, description),
            needs it named.
        text_pair_column: an optional second text feature, for sentence pairs
            (e.g. "sentence2" of glue/mrpc).
        label_column: the label feature (a `tfds.features.ClassLabel`); its
            names are the class names.
        data_dir: the TFDS data folder; None uses TFDS' default
            (~/tensorflow_datasets).
        train_split: the split to train on; slicing works, e.g. "train[:80%]".
        validation_split: the held-out split, e.g. "test" or "train[80%:]"
            (a split name: the fraction `TextOptions.validation_split` is not
            used here).
        options: a `TextOptions`; None for the defaults.
        **overrides: fields of `TextOptions` replacing those of `options`:
            `preprocessor`, `batch_size`, `seed` (of the shuffle), `cache`,
            `skip_bad_rows` (examples with empty text), `group_by_length`,
            `trim_padding`.

    Returns:
        A `TextData`.

    Examples:

    >>> data = from_tfds_text("ag_news_subset", text_column="description")
    >>> data.class_names
    ('World', 'Sports', 'Business', 'Sci/Tech')
    """
    import tensorflow_datasets as tfds

    options = resolve_options(TextOptions, options, overrides, "from_tfds_text")
    builder = find_builder(tfds, name, data_dir)
    features = builder.info.features
    text_column = _check_features(
        tfds, features, name, text_column, text_pair_column, label_column
    )
    prepare(builder, name, data_dir)
    for argument, split in (("train_split", train_split), ("validation_split", validation_split)):
        check_split(builder, name, argument, split)
    keys = [k for k in (text_column, text_pair_column, label_column) if k is not None]

    def read(split):
        examples = builder.as_dataset(split=split, shuffle_files=False)
        columns = examples.map(
            lambda ex: tuple(ex[k] for k in keys), num_parallel_calls=tf.data.AUTOTUNE
        )
        batches = list(columns.batch(_READ_BATCH).as_numpy_iterator())
        values = [
            np.concatenate([b[i] for b in batches]).tolist() if batches else [] for i in range(len(keys))
        ]
        return TextRows(
            source=f"{name} {split}",
            texts=values[0],
            labels=values[-1],
            pairs=values[1] if text_pair_column is not None else None,
            place=f"{name} {split} example {{}}",
        )

    return build_text_data(
        read(train_split),
        read(validation_split),
        options=options,
        class_names=tuple(features[label_column].names),
    )


def text_features(tfds, features):
    """The names of the top-level `tfds.features.Text` features."""
    return [k for k, f in features.items() if isinstance(f, tfds.features.Text)]


def holds_text(tfds, features):
    """True for a text data set: a Text feature and no Image or Video feature.

    Image sets may carry a Text feature too (cifar10 has an "id").
    """
    visual = (tfds.features.Image, tfds.features.Video)
    if any(isinstance(f, visual) for f in features.values()):
        return False
    return bool(text_features(tfds, features))


def _check_features(tfds, features, name, text_column, text_pair_column, label_column):
    """Checks the feature names and kinds; returns the text feature to read."""
    keys = ", ".join(features.keys())
    texts = text_features(tfds, features)
    if text_column is None:
        candidates = [k for k in texts if k != text_pair_column]
        if len(candidates) != 1 or not holds_text(tfds, features):
            found = f"text features {', '.join(candidates)}" if candidates else "no text feature"
            image = "" if holds_text(tfds, features) else " It looks like image data: use from_tfds."
            raise ValueError(
                f"TFDS data set {name!r} has {found} (its features: {keys}).{image} "
                "Pass text_column= the feature to classify (data.text_column in a config), "
                "and text_pair_column= a second one for sentence pairs."
            )
        text_column = candidates[0]
    for argument, key, kind in (
        ("text_column", text_column, tfds.features.Text),
        ("text_pair_column", text_pair_column, tfds.features.Text),
        ("label_column", label_column, tfds.features.ClassLabel),
    ):
        if key is None:
            continue
        check_feature(features, name, argument, key, kind)
    return text_column
