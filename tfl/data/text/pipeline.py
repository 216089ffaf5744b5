"""The shared tail of every text source: tokenize, cache, shuffle, batch, prefetch.

The preprocessor is a KerasHub `TextClassifierPreprocessor` passed in by the
caller (tfl.data never imports KerasHub). Only this much of it is used:

- `preprocessor(texts)` -> `{"token_ids", "segment_ids", "padding_mask"}`,
  each `[B, sequence_length]`, for a `tf.string` batch `[B]`;
- `preprocessor(x=(first, second))` for pairs (a bare tuple would be read as
  `(x, y)`);
- `preprocessor.sequence_length`;
- `preprocessor.tokenizer(texts)` -> ragged token ids, to count truncation.

Padding costs compute: an encoder spends as long on a `[PAD]` position as on a
word. Two steps cut it without changing what the model computes:

- `trim_padding`: each batch is cut to its longest text, rounded up to a
  multiple of `TRIM_MULTIPLE` (dynamic padding). The cut columns are padding
  in every row, masked out of attention and of pooling, so the outputs at the
  kept positions are the same (up to float round-off).
- `group_by_length` (training data): texts of similar length are batched
  together, as fastai's `SortishSampler` does: shuffled pools of
  `GROUP_POOL_BATCHES` batches are sorted by length, cut into batches, and the
  batches shuffled again. Each batch then has little padding to trim. Every
  example is still seen once an epoch, in a new order each epoch.
"""

import numbers

import numpy as np
import tensorflow as tf

from tfl.data.order import balanced_each_epoch
from tfl.data.order import shuffle_each_epoch

AUTOTUNE = tf.data.AUTOTUNE

# Texts are tokenized in batches of this many; the batches are split again
# before the shuffle, so it does not change what a training batch holds.
TOKENIZE_BATCH = 256

# A trimmed batch's length is a multiple of this, so a training step traces
# (or, with XLA, compiles) for at most sequence_length / 8 shapes.
TRIM_MULTIPLE = 8

# group_by_length sorts shuffled pools of this many batches (fastai's
# SortishSampler uses 50).
GROUP_POOL_BATCHES = 50

# Special tokens a BERT-style preprocessor adds: [CLS] t [SEP], [CLS] a [SEP] b [SEP].
_SPECIAL_TOKENS = {False: 2, True: 3}


def check_preprocessor(preprocessor):
    """Returns the preprocessor's `sequence_length`, or None for no preprocessor."""
    if preprocessor is None:
        return None
    length = getattr(preprocessor, "sequence_length", None)
    if not callable(preprocessor) or not isinstance(length, numbers.Integral) or length < 1:
        raise TypeError(
            "preprocessor is a KerasHub TextClassifierPreprocessor (callable, with an int "
            "sequence_length), e.g. keras_hub.models.TextClassifierPreprocessor.from_preset("
            "PRESET, sequence_length=128), or None for raw strings. Received: "
            f"{type(preprocessor).__name__} with sequence_length={length!r}"
        )
    return int(length)


def _tokenize(preprocessor, texts, pairs=None):
    if pairs is None:
        return preprocessor(texts)
    return preprocessor(x=(texts, pairs))


def _content_lengths(tokens):
    """The length of each row up to its last unmasked position, `[B]` int32.

    Counted from the mask's last True, not its sum, so a preprocessor that
    pads on the left keeps its full length (and is never cut)."""
    mask = tokens["padding_mask"]
    positions = tf.range(1, tf.shape(mask)[1] + 1)
    return tf.reduce_max(tf.where(tf.cast(mask, tf.bool), positions[tf.newaxis, :], 0), axis=1)


def trim_batch_padding(tokens):
    """Cuts a batch of token columns to its longest row, rounded up to a
    multiple of `TRIM_MULTIPLE` (and never beyond the columns it has).

    Args:
        tokens: the preprocessor's dict of `[B, sequence_length]` tensors,
            with `padding_mask`.

    Returns:
        The same dict, every `[B, sequence_length]` tensor cut to `[B, L]`.

    Examples:

    >>> tokens = {"token_ids": tf.constant([[101, 7, 102, 0, 0, 0, 0, 0, 0, 0]]),
    ...     "padding_mask": tf.constant([[True] * 3 + [False] * 7])}
    >>> trim_batch_padding(tokens)["token_ids"].shape
    TensorShape([1, 8])
    """
    width = tf.shape(tokens["padding_mask"])[1]
    # At least 1 column, also for an empty batch.
    longest = tf.reduce_max(tf.concat([_content_lengths(tokens), [1]], axis=0))
    length = tf.minimum(width, -(-longest // TRIM_MULTIPLE) * TRIM_MULTIPLE)
    return {name: value[:, :length] if value.shape.rank == 2 else value for name, value in tokens.items()}


def _sort_by_length(tokens, labels):
    order = tf.argsort(_content_lengths(tokens), stable=True)
    return tf.nest.map_structure(lambda t: tf.gather(t, order), (tokens, labels))


def _group_by_length(dataset, batch_size, seed, count):
    """Batches of similar length from a shuffled stream of examples."""
    pool = batch_size * GROUP_POOL_BATCHES
    dataset = dataset.batch(pool).map(_sort_by_length).unbatch()
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(count)).batch(batch_size)
    batches = -(-count // batch_size)
    return shuffle_each_epoch(dataset, min(batches, GROUP_POOL_BATCHES), seed)


def build_text_pipeline(
    texts,
    pairs,
    labels,
    preprocessor,
    *,
    batch_size,
    seed,
    cache,
    shuffle,
    trim_padding=True,
    group_by_length=False,
    balanced_classes=None,
):
    """Turns texts and labels into batches of `(inputs, labels)`.

    Args:
        texts: a list of N str.
        pairs: the second texts (a list of N str), or None.
        labels: int32 `[N]` or float32 `[N, C]` numpy labels.
        preprocessor: tokenizes a batch of strings (see the module doc), or
            None to keep the strings: `{"text": tf.string [B]}` (and
            `"text_pair"`).
        batch_size: examples per batch (the last batch may be smaller).
        seed: the shuffle seed.
        cache: keep the tokenized examples in memory after the first pass.
        shuffle: shuffle, with a new order each epoch (training data only).
        trim_padding: cut each batch's padding to its longest text (see the module
            doc); the outputs are the same, the shapes vary by batch.
        group_by_length: with `shuffle`, batch texts of similar length
            together (see the module doc).
        balanced_classes: with `shuffle`, the number of classes to draw
            equally often (`tfl.data.order.balanced_each_epoch`) instead of
            shuffling; None shuffles. Single-label labels only.

    Returns:
        A batched, prefetched `tf.data.Dataset`.

    Examples:

    >>> ds = build_text_pipeline(["a cat", "a dog"], None, np.array([0, 1], np.int32),
    ...     None, batch_size=2, seed=1, cache=True, shuffle=False)
    >>> next(iter(ds))[0]["text"].numpy()
    array([b'a cat', b'a dog'], dtype=object)
    """
    columns = {"text": tf.constant(texts, tf.string)}
    if pairs is not None:
        columns["text_pair"] = tf.constant(pairs, tf.string)
    dataset = tf.data.Dataset.from_tensor_slices((columns, labels))
    buffer = max(1, len(texts))

    def shuffled(ds):
        if balanced_classes:
            return balanced_each_epoch(ds, balanced_classes, len(texts), seed)
        return shuffle_each_epoch(ds, buffer, seed)

    if preprocessor is None:
        if shuffle:
            dataset = shuffled(dataset)
        return dataset.batch(batch_size).prefetch(AUTOTUNE)
    # Without a cache, shuffle the cheap strings before tokenizing; with one,
    # after it, or every epoch would replay the first order.
    if shuffle and not cache:
        dataset = shuffled(dataset)
    dataset = dataset.batch(TOKENIZE_BATCH).map(
        lambda x, y: (_tokenize(preprocessor, x["text"], x.get("text_pair")), y),
        num_parallel_calls=AUTOTUNE,
    )
    # unbatch() loses the count; Keras then warns that the input "ran out of data".
    dataset = dataset.unbatch().apply(tf.data.experimental.assert_cardinality(len(texts)))
    if cache:
        dataset = dataset.cache()
        if shuffle:
            dataset = shuffled(dataset)
    if shuffle and group_by_length and "padding_mask" in dataset.element_spec[0]:
        dataset = _group_by_length(dataset, batch_size, seed, len(texts))
    else:
        dataset = dataset.batch(batch_size)
    if trim_padding and "padding_mask" in dataset.element_spec[0]:
        dataset = dataset.map(lambda x, y: (trim_batch_padding(x), y), num_parallel_calls=AUTOTUNE)
    return dataset.prefetch(AUTOTUNE)


def token_counts(texts, pairs, preprocessor):
    """The number of tokens of each text (or pair), without special tokens.

    Args:
        texts: a list of str.
        pairs: the second texts, or None; a pair counts the tokens of both.
        preprocessor: the preprocessor; its `tokenizer` does the counting.

    Returns:
        An int64 array `[N]`, or None when it cannot be known (no tokenizer,
        or one that does not return ragged token ids).
    """
    tokenizer = getattr(preprocessor, "tokenizer", None)
    if tokenizer is None:
        return None
    if not texts:
        return np.zeros([0], np.int64)
    ragged = []

    def lengths(*columns):
        ids = [tokenizer(c) for c in columns]
        if not all(isinstance(i, tf.RaggedTensor) for i in ids):
            ragged.append(False)
            return tf.zeros_like(columns[0], tf.int64)
        return tf.add_n([i.row_lengths() for i in ids])

    columns = (texts,) if pairs is None else (texts, pairs)
    dataset = tf.data.Dataset.from_tensor_slices(tuple(tf.constant(c, tf.string) for c in columns))
    dataset = dataset.batch(TOKENIZE_BATCH).map(lengths, num_parallel_calls=AUTOTUNE)
    counts = np.concatenate(list(dataset.as_numpy_iterator()))
    return None if ragged else counts


def truncation_limit(preprocessor, pairs):
    """The most tokens that fit uncut: a single text is cut beyond
    `sequence_length - 2` ([CLS], [SEP]); a pair beyond `sequence_length - 3`."""
    return preprocessor.sequence_length - _SPECIAL_TOKENS[pairs]


def count_truncated(texts, pairs, preprocessor):
    """How many texts (or pairs) have more tokens than fit in `sequence_length`.

    Args:
        texts: a list of str.
        pairs: the second texts, or None.
        preprocessor: the preprocessor, with a `tokenizer` and a `sequence_length`.

    Returns:
        The count, or None when it cannot be known (see `token_counts`).

    Examples:

    >>> count_truncated(["a short text", "a much longer text ..."], None, preprocessor)
    1
    """
    counts = token_counts(texts, pairs, preprocessor)
    if counts is None:
        return None
    return int(np.sum(counts > truncation_limit(preprocessor, pairs is not None)))
