"""The `data` section of a config: where the examples come from and how they are split.

`check_resize` is shared with the model section and the data sources: how an
image is brought to the model's size.
"""

import dataclasses

from tfl.config.value_error import ConfigValueError

RESIZE_MODES = ("crop", "stretch")


def check_resize(resize):
    """Returns `resize` if it is one of `RESIZE_MODES`, else raises a ValueError naming it.

    Args:
        resize: how an image is brought to the model's `image_size`: "crop"
            (centre-crop the largest box with the aspect ratio of
            `image_size`, then resize) or "stretch" (resize the whole image;
            its aspect ratio is lost).

    Examples:

    >>> check_resize("crop")
    'crop'
    """
    if not isinstance(resize, str) or resize not in RESIZE_MODES:
        raise ValueError(
            f"Unknown resize {resize!r}. Known: crop (centre-crop to the aspect ratio of image_size, "
            "then resize), stretch (resize the whole image, aspect ratio lost). Pass resize='crop' or "
            f"resize='stretch' (model.resize in a config, --resize with `tfl train`). Received: resize={resize!r}"
        )
    return resize



@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the data comes from and how it is batched.

    Args:
        source: images: a folder with one sub-folder per class, `"tfds:NAME"`
            for a TensorFlow Datasets name, or `"digits"` for the embedded demo
            data. Text: a `.csv`, `.tsv` or `.jsonl` file, `"tfds:NAME"`, or
            `"tweets"` for the demo's tweets.
        validation_source: an optional held-out folder of images with the same
            class folders, or a held-out text file with the same columns.
            Without it, `validation_split` of each class is held out (a
            deterministic, seeded, stratified split).
        validation_split: fraction of each class held out for evaluation.
        batch_size: examples per batch.
        seed: seed of the split, the shuffle and the weight initialisation.
        cache: keep decoded, resized images (or tokenized texts) in memory
            after the first epoch.
        balanced_sampling: draw training examples with every class equally
            often (per-class streams, reshuffled and repeated, sampled with
            equal weights, seeded by `seed` and the epoch); an epoch keeps the
            training data's size, so small classes repeat and large ones are
            partly seen. Single-label data only (multi-label: use
            `train.class_weight`).
        deterministic: keep the order of examples fixed by the seed. False
            lets parallel decoding hand over whichever example is ready
            first: a little faster, but no longer repeatable.
        skip_bad_files: if True, unreadable image files and bad text rows
            (empty text, missing label, wrong column count, not UTF-8) are
            skipped, counted and logged; if False (the default) they are an
            error naming them.
        text_column: text: the column (CSV/TSV header or JSONL key) holding
            the text.
        text_pair_column: text: an optional second text column, for sentence
            pairs.
        label_column: text: the column holding the label.
        label_separator: text: splits a label cell into several labels (e.g.
            "|"), which makes the data multi-label. JSONL lists are
            multi-label without it.
        group_by_length: text: batch training texts of similar length
            together (shuffled pools of 50 batches sorted by length, the
            batches shuffled again, as fastai's SortishSampler), so that
            `trim_padding` cuts more. Every text is still seen once an epoch,
            but batches are less mixed: faster, and it changes the result
            (docs/performance.md), so it is off by default.
        trim_padding: text: cut each batch's tokens to its longest text,
            rounded up to a multiple of 8, instead of `model.sequence_length`.
            The outputs are the same; the encoder skips the padding. Turn it
            off for fixed shapes (TPUs; XLA compiles once per length).
        tfds_data_dir: `data_dir` for TensorFlow Datasets.
        tfds_train_split: the TFDS split to train on.
        tfds_validation_split: the TFDS split to evaluate on.
        target_source: images of the target domain, for domain adaptation
            (`train.adaptation`): a folder whose class folders (named like
            the source's classes) hold labelled images and whose own images
            are unlabelled, or "digits_recoloured" (the digits that the
            `digits` source holds out, recoloured). Labelled target images
            are split by `validation_split`: the held-out part scores the
            adapted model and is never trained on.
        unlabeled_source: unlabelled examples for self-training
            (`train.self_training`): images: a folder of loose images (class
            folders named like the classes are allowed: their labels only
            score the pseudo-labels in the report); text: a `.csv`, `.tsv`
            or `.jsonl` file whose `text_column` is read (a `label_column`,
            where present, likewise only scores the pseudo-labels).

    Examples:

    >>> config = DataConfig(source="flowers/", batch_size=16)
    >>> config.batch_size, config.validation_split
    (16, 0.2)
    """

    source: str | None = None
    validation_source: str | None = None
    validation_split: float = 0.2
    batch_size: int = 32
    seed: int = 1337
    cache: bool = True
    balanced_sampling: bool = False
    deterministic: bool = True
    skip_bad_files: bool = False
    tfds_data_dir: str | None = None
    tfds_train_split: str = "train"
    tfds_validation_split: str = "test"
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    label_separator: str | None = None
    group_by_length: bool = False
    trim_padding: bool = True
    target_source: str | None = None
    unlabeled_source: str | None = None

    def __post_init__(self):
        if not 0 < self.validation_split < 1:
            raise ConfigValueError("validation_split", self.validation_split, "is the held-out fraction, in (0, 1).")
        if not self.batch_size >= 1:
            raise ConfigValueError("batch_size", self.batch_size, "must be >= 1.")
