"""`TextOptions`: the pipeline settings every text source shares."""

import dataclasses

from tfl.data.options import PipelineOptions
from tfl.data.text.pipeline import check_preprocessor


@dataclasses.dataclass(frozen=True)
class TextOptions(PipelineOptions):
    """`PipelineOptions` plus how texts are tokenized, batched and skipped.

    Args:
        batch_size: examples per batch (the last batch may be smaller).
        validation_split: fraction of each class held out when a source has no
            held-out data of its own (stratified, seeded; multi-label rows per
            label).
        seed: seed of the split and of the shuffle, a whole number in
            [0, 2**32).
        cache: keep the tokenized examples in memory.
        balanced_sampling: draw training texts with every class equally
            often, an epoch keeping the data's size (single-label only).
        preprocessor: a KerasHub `TextClassifierPreprocessor`, e.g.
            `keras_hub.models.TextClassifierPreprocessor.from_preset(PRESET,
            sequence_length=128)`; None keeps raw strings.
        skip_bad_rows: skip bad rows (empty or missing text, missing label,
            not UTF-8; in files also a wrong number of fields or bad JSON),
            counted in `skipped_rows` and logged, instead of raising an error
            naming them.
        group_by_length: batch training texts of similar length together
            (fastai's SortishSampler), so that `trim_padding` cuts more;
            faster, but it changes the batches (off by default).
        trim_padding: cut each batch to its longest text (rounded up to a
            multiple of 8): the same outputs, less compute on padding.

    Examples:

    >>> TextOptions(batch_size=16, trim_padding=False).group_by_length
    False
    """

    preprocessor: object = None
    skip_bad_rows: bool = False
    group_by_length: bool = False
    trim_padding: bool = True

    def __post_init__(self):
        super().__post_init__()
        check_preprocessor(self.preprocessor)

    @property
    def sequence_length(self):
        """The preprocessor's `sequence_length`, or None without a preprocessor."""
        return check_preprocessor(self.preprocessor)
