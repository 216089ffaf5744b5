"""`TextData`: what every text source returns, the training and held-out pipelines."""

import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True, eq=False)
class TextData:
    """Batched text pipelines with their class names, sizes and what was cut or skipped.

    Each batch is `(inputs, labels)`: labels are int32 class ids `[B]`, or
    float32 multi-hot `[B, C]` when `multi_label`. With a preprocessor,
    `inputs` is its output: `{"token_ids", "segment_ids", "padding_mask"}`,
    each `[B, sequence_length]`. Without one, `inputs` is `{"text": tf.string
    [B]}` (and `"text_pair"` for pairs), for models that tokenize themselves.

    Args:
        train: shuffled with the seed, in a new order each epoch, prefetched.
        validation: the held-out examples in a fixed order, prefetched.
        class_names: the class names; a label `i` means `class_names[i]`.
        num_train: examples in `train`.
        num_validation: examples in `validation`.
        multi_label: labels are multi-hot vectors instead of class ids.
        validation_labels: the labels of `validation`, in its order (numpy).
        sequence_length: tokens per example, [CLS] and [SEP] included; None
            without a preprocessor.
        text_pairs: each example is a pair of texts (first, second).
        truncated: `{"train": n, "validation": n}`, the texts (or pairs) longer
            than `sequence_length` tokens, which were cut; None when unknown
            (no preprocessor, or one without a tokenizer).
        skipped_rows: bad rows skipped with `skip_bad_rows=True`, e.g.
            "data.csv line 7: empty text".
        validation_texts: the texts of `validation`, in its order, as read
            (the batches hold token ids once a preprocessor has run); for
            showing examples, e.g. `tfl.evaluate.plot_top_losses`.
        validation_text_pairs: the second texts of `validation`, or None.

    Examples:

    >>> data = from_texts(["good", "bad", "fine", "awful"], ["pos", "neg", "pos", "neg"],
    ...     validation_split=0.5)
    >>> data.class_names
    ('neg', 'pos')
    >>> inputs, labels = next(iter(data.train))
    >>> inputs["text"].dtype
    tf.string
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    class_names: tuple[str, ...]
    num_train: int
    num_validation: int
    multi_label: bool
    validation_labels: np.ndarray
    sequence_length: int | None = None
    text_pairs: bool = False
    truncated: dict[str, int] | None = None
    skipped_rows: tuple[str, ...] = ()
    validation_texts: tuple[str, ...] | None = None
    validation_text_pairs: tuple[str, ...] | None = None

    @property
    def num_classes(self):
        return len(self.class_names)

    def __repr__(self):
        return (
            f"TextData({self.num_classes} classes, {self.num_train} train, "
            f"{self.num_validation} validation, sequence_length={self.sequence_length}, "
            f"text_pairs={self.text_pairs}, multi_label={self.multi_label})"
        )
