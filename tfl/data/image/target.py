"""Target-domain images for domain adaptation: labelled, partly labelled or unlabelled.

The source data trains the classifier as usual (an `ImageData`); the target
data is the domain the model will meet. A target folder holds images in
class folders (labelled, with the source's class names) and/or directly in
the folder (unlabelled). Labelled target images are split: a held-out part
scores the adapted model and is never trained on; the rest join the
unlabelled images in the training pool, where a label is -1 unless kept
(`labels_per_class`).
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tfl.data.image.digits import load_digits
from tfl.data.image.digits import recolour_digits
from tfl.data.image.files import scan_partly_labelled_folder
from tfl.data.image.options import ImageOptions
from tfl.data.image.pipeline import build_pipeline
from tfl.data.image.pipeline import load_image_file
from tfl.data.image.pipeline import resize_to_uint8
from tfl.data.image.pipeline import to_rgb
from tfl.data.options import resolve_options
from tfl.data.split import stratified_split

MISSING_LABEL = -1
RECOLOURED_DIGITS = "digits_recoloured"


@dataclasses.dataclass(frozen=True, eq=False)
class TargetData:
    """Target-domain pipelines for `tfl.adapt.DomainAdaptation`.

    Args:
        train: the training pool, shuffled: batches of `({"images": ...},
            labels)` with label -1 where the label is unknown or withheld.
        images: the same pool in a fixed order, images only: what
            unsupervised scores (IM, SND) are computed on.
        test: held-out labelled target examples, never trained on, as
            `({"images": ...}, labels)`; None when the target has no labels.
        num_train: examples in the training pool.
        num_labelled: examples of the pool whose label is used.
        num_test: examples in `test`.
        test_labels: the labels of `test`, in its order (numpy), or None.
    """

    train: tf.data.Dataset
    images: tf.data.Dataset
    test: tf.data.Dataset | None
    num_train: int
    num_labelled: int
    num_test: int
    test_labels: np.ndarray | None

    def __repr__(self):
        return (
            f"TargetData({self.num_train} in the pool, {self.num_labelled} of them labelled, "
            f"{self.num_test} held out)"
        )


def load_target_images(source, *, class_names, labels_per_class=None, options=None, **overrides):
    """Loads target-domain images from a folder, or the embedded recoloured digits.

    Args:
        source: a folder whose class folders (named like the source's
            classes, a subset is fine) hold labelled images and whose own
            images are unlabelled; or "digits_recoloured": the target of
            the `digits` source: the embedded digits it holds out (same
            `validation_split` and `seed`), recoloured (random background
            and stroke colours, noise; see `recolour_digits`).
        class_names: the source's class names; a class folder must be one.
        labels_per_class: keep this many training-pool labels per class
            (seeded choice) and withhold the others (-1); None keeps all,
            0 none (unsupervised adaptation).
        options: an `ImageOptions`; None for the defaults. Its
            `validation_split` is the fraction of each class of the labelled
            images held out as `test`; its `seed` seeds the split, the kept
            labels and the shuffle.
        **overrides: fields of `ImageOptions` replacing those of `options`:
            `image_size` (required), `resize` (as for the source data: the
            model's `resize`), `batch_size`, `validation_split`, `seed`,
            `cache`, `skip_bad_files`.

    Returns:
        A `TargetData`.

    Examples:

    >>> target = load_target_images("digits_recoloured", image_size=32,
    ...                             class_names=[str(i) for i in range(10)], labels_per_class=0)
    >>> target.num_labelled
    0
    """
    options = resolve_options(ImageOptions, options, overrides, "load_target_images")
    class_names = tuple(class_names)
    if labels_per_class is not None and (
        isinstance(labels_per_class, bool) or not isinstance(labels_per_class, int) or labels_per_class < 0
    ):
        raise ValueError(
            f"labels_per_class is a count >= 0, or None for all labels. Received: labels_per_class={labels_per_class!r}"
        )
    if source == RECOLOURED_DIGITS:
        raw, labels, load = _recoloured_digits(class_names, options)
    else:
        raw, labels = _scan_target_folder(source, class_names, options.skip_bad_files)

        def load(path):
            return load_image_file(path, options.image_size, options.resize)

    labelled = np.flatnonzero(labels != MISSING_LABEL)
    pool = np.flatnonzero(labels == MISSING_LABEL)
    test = np.array([], dtype=np.int64)
    if len(labelled):
        train_part, held_out = stratified_split(labels[labelled], options.validation_split, options.seed)
        test = labelled[held_out]
        pool = np.sort(np.concatenate([pool, labelled[train_part]]))
    pool_labels = labels[pool].copy()
    if labels_per_class is not None:
        pool_labels = _keep_labels(pool_labels, labels_per_class, options.seed)

    def pipeline(index, targets, shuffle):
        return build_pipeline(
            tf.data.Dataset.from_tensor_slices((raw[index], targets)),
            load,
            num_examples=len(index),
            batch_size=options.batch_size,
            seed=options.seed,
            cache=options.cache,
            shuffle=shuffle,
        )

    ordered = pipeline(pool, pool_labels, shuffle=False)
    return TargetData(
        train=pipeline(pool, pool_labels, shuffle=True),
        images=ordered.map(lambda x, y: x),
        test=pipeline(test, labels[test], shuffle=False) if len(test) else None,
        num_train=len(pool),
        num_labelled=int(np.sum(pool_labels != MISSING_LABEL)),
        num_test=len(test),
        test_labels=labels[test] if len(test) else None,
    )


def _keep_labels(labels, per_class, seed):
    """Withholds (-1) all but `per_class` labels of each class, chosen with the seed."""
    kept = np.full_like(labels, MISSING_LABEL)
    rng = np.random.default_rng(seed)
    for label in np.unique(labels[labels != MISSING_LABEL]):
        members = np.flatnonzero(labels == label)
        chosen = rng.permutation(members)[:per_class]
        kept[chosen] = label
    return kept


def _recoloured_digits(class_names, options):
    """The digits that the `digits` source holds out (same split and seed), recoloured:
    no target image is a recoloured copy of a source training image."""
    digit_names = tuple(str(i) for i in range(10))
    if class_names != digit_names:
        raise ValueError(
            f"{RECOLOURED_DIGITS!r} is the target of the 'digits' source, with classes "
            f"{', '.join(digit_names)}; the model's classes are {', '.join(class_names)}. "
            "Give a target folder with your own classes instead."
        )
    images, labels = load_digits()
    _, held_out = stratified_split(labels, options.validation_split, options.seed)
    images, labels = images[held_out], labels[held_out]
    coloured = recolour_digits(images, options.seed)

    def load(image):
        return resize_to_uint8(to_rgb(tf.cast(image, tf.float32)), options.image_size, options.resize)

    return coloured, labels.astype(np.int32), load


def _scan_target_folder(source, class_names, skip_bad_files):
    """The target folder's image paths and labels (-1 for images not in a class folder)."""
    root = os.fspath(source)
    return scan_partly_labelled_folder(
        root,
        class_names,
        skip_bad_files=skip_bad_files,
        name="the target folder",
        argument="data.target_source",
        missing_hint=(
            ": give a folder with unlabelled images and/or class folders named like the source's classes, "
            f"or {RECOLOURED_DIGITS!r}"
        ),
    )
