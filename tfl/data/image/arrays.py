"""Images and labels held in numpy arrays."""

import numpy as np
import tensorflow as tf

from tfl.config.class_names import check_class_names
from tfl.data.image.data import ImageData
from tfl.data.image.options import ImageOptions
from tfl.data.image.pipeline import build_pipeline
from tfl.data.image.pipeline import resize_to_uint8
from tfl.data.image.pipeline import to_rgb
from tfl.data.options import resolve_options
from tfl.data.split import split_examples

_SHAPES = "(N, H, W) or (N, H, W, C) with C = 1, 2, 3 or 4"


def from_arrays(
    x, y, *, class_names=None, validation_data=None, value_range=(0, 255), options=None, **overrides
):
    """Builds image pipelines from numpy arrays.

    Args:
        x: images, shape (N, H, W), (N, H, W, 1), (N, H, W, 3) or (N, H, W, 4),
            of any numeric dtype. Grey is repeated to RGB; alpha is dropped.
        y: one of: class ids 0..C-1 (shape (N,)); class names as strings
            (shape (N,)), the classes being the sorted unique strings unless
            `class_names` is given; or multi-hot 0/1 labels (shape (N, C)),
            which make the data multi-label.
        class_names: names of the classes; defaults to "0".."C-1" for ids and
            multi-hot labels, and to the sorted unique strings for strings.
        validation_data: optional held-out `(x_val, y_val)`, labelled like `y`.
            Without it, `validation_split` of each class is held out
            (stratified, seeded); multi-hot examples are stratified per label
            (`tfl.data.split.multi_label_split`).
        value_range: `(low, high)` of the values in `x`, mapped to [0, 255]:
            `(0, 1)` for float images in [0, 1], `(0, 65535)` for 16-bit.
        options: an `ImageOptions`; None for the defaults.
        **overrides: fields of `ImageOptions` replacing those of `options`:
            `image_size` (required), `resize`, `batch_size`,
            `validation_split`, `seed`, `cache` (the resized uint8 images).

    Returns:
        An `ImageData`.

    Examples:

    >>> x = np.random.default_rng(0).integers(0, 256, (20, 8, 8), dtype=np.uint8)
    >>> data = from_arrays(x, np.arange(20) % 2, image_size=(32, 32))
    >>> data.class_names
    ('0', '1')
    """
    options = resolve_options(ImageOptions, options, overrides, "from_arrays")
    low, high = _check_value_range(value_range)
    x = _check_images(x, low, high, "x")
    labels, class_names, multi_label = _encode_labels(y, len(x), class_names, "y")
    _check_classes_present(labels, class_names, multi_label)
    if validation_data is None:
        (x_train, y_train), (x_held_out, y_held_out) = _split(x, labels, options)
    else:
        x_train, y_train = x, labels
        x_held_out, y_held_out = _held_out(validation_data, low, high, class_names, multi_label)

    scale = 255.0 / (high - low)

    def load(image):
        image = (tf.cast(image, tf.float32) - low) * scale
        return resize_to_uint8(to_rgb(image), options.image_size, options.resize)

    def pipeline(images, targets, shuffle):
        return build_pipeline(
            tf.data.Dataset.from_tensor_slices((images, targets)),
            load,
            num_examples=len(images),
            batch_size=options.batch_size,
            seed=options.seed,
            cache=options.cache,
            shuffle=shuffle,
            balanced_classes=len(class_names) if shuffle and options.balanced_sampling else None,
        )

    return ImageData(
        train=pipeline(x_train, y_train, shuffle=True),
        validation=pipeline(x_held_out, y_held_out, shuffle=False),
        class_names=class_names,
        num_train=len(x_train),
        num_validation=len(x_held_out),
        image_size=options.image_size,
        multi_label=multi_label,
        validation_labels=y_held_out,
    )


def _split(x, labels, options):
    """`((x_train, y_train), (x_held_out, y_held_out))`: `validation_split` of each class held out."""
    train_index, held_out_index = split_examples(labels, options.validation_split, options.seed)
    if not len(held_out_index):
        raise ValueError(
            f"No image is left for validation in x: every class has a single image ({len(x)} images, "
            f"{len(train_index)} for training). Add images, or pass validation_data=(x_val, y_val) with "
            "held-out images."
        )
    return (x[train_index], labels[train_index]), (x[held_out_index], labels[held_out_index])


def _held_out(validation_data, low, high, class_names, multi_label):
    """`(x_val, y_val)` of `validation_data`, checked and labelled like the training data."""
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise ValueError(
            "validation_data is a pair (x_val, y_val). "
            f"Received: {type(validation_data).__name__}"
        )
    x_held_out = _check_images(validation_data[0], low, high, "validation_data[0]")
    y_held_out, _, _ = _encode_labels(
        validation_data[1],
        len(x_held_out),
        class_names,
        "validation_data[1]",
        multi_label=multi_label,
    )
    return x_held_out, y_held_out


def _check_value_range(value_range):
    try:
        low, high = (float(v) for v in value_range)
        valid = np.isfinite([low, high]).all() and high > low
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(
            "value_range is (low, high) of the pixel values, with low < high, e.g. (0, 255) "
            f"or (0, 1). Received: value_range={value_range!r}"
        )
    return low, high


def _check_images(x, low, high, name):
    """Returns `x` as an (N, H, W, C) array after checking shape, dtype and values."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4 or x.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"{name} must have shape {_SHAPES}. Received shape {x.shape}")
    if len(x) == 0 or x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}). Give at least one image per class.")
    if x.dtype == bool or not (
        np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)
    ):
        raise ValueError(
            f"{name} must hold numbers (uint8, int or float). Received dtype {x.dtype}"
        )
    smallest, largest = x.min(), x.max()
    if np.isnan(smallest) or np.isnan(largest):
        raise ValueError(f"{name} holds NaN values. Replace or drop those images.")
    if np.issubdtype(x.dtype, np.floating) and (low, high) == (0, 255) and largest <= 1.0:
        raise ValueError(
            f"{name} holds floats in [{smallest:g}, {largest:g}], which look like images "
            "scaled to [0, 1]. Pass value_range=(0, 1), or multiply the images by 255."
        )
    slack = 1e-6 * (high - low)
    if smallest < low - slack or largest > high + slack:
        raise ValueError(
            f"{name} holds values in [{smallest:g}, {largest:g}], outside "
            f"value_range=({low:g}, {high:g}). Pass the range the pixel values come from, "
            "e.g. value_range=(0, 1) for floats in [0, 1] or (0, 65535) for 16-bit images."
        )
    return x


def _encode_labels(y, count, class_names, name, multi_label=None):
    """Returns `(labels, class_names, multi_label)`: int32 ids or float32 multi-hot."""
    y = np.asarray(y)
    if y.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be class ids or names of shape (N,), or multi-hot labels of shape "
            f"(N, C). Received shape {y.shape}"
        )
    if len(y) != count:
        raise ValueError(
            f"There are {count} images but {len(y)} labels in {name}. "
            "Give exactly one label per image."
        )
    class_names = None if class_names is None else tuple(check_class_names(class_names, strings_only=True))
    if y.ndim == 2:
        if multi_label is False:
            raise ValueError(f"{name} is multi-hot (shape {y.shape}) but y holds class ids.")
        return _encode_multi_hot(y, class_names, name)
    if multi_label:
        raise ValueError(f"{name} holds class ids (shape {y.shape}) but y is multi-hot.")
    if y.dtype.kind in "US" or (y.dtype.kind == "O" and all(isinstance(v, str) for v in y)):
        return _encode_strings(y, class_names, name)
    return _encode_ids(y, class_names, name)


def _encode_multi_hot(y, class_names, name):
    values = _as_numbers(y, name)
    if np.isnan(values).any():
        row = int(np.argwhere(np.isnan(values))[0][0])
        raise ValueError(f"{name} holds NaN labels (first in row {row}). Give 0 or 1.")
    outside = ~np.isin(values, (0, 1))
    if outside.any():
        row, column = (int(v) for v in np.argwhere(outside)[0])
        raise ValueError(
            f"Multi-hot labels hold 0 or 1; {name}[{row}, {column}] is {values[row, column]:g}."
        )
    num_classes = y.shape[1]
    if class_names is None:
        class_names = tuple(str(i) for i in range(num_classes))
    if len(class_names) != num_classes:
        raise ValueError(
            f"{name} has {num_classes} columns but class_names has {len(class_names)} names. "
            "Give one name per column."
        )
    return values.astype(np.float32), class_names, True


def _encode_strings(y, class_names, name):
    strings = [str(v) for v in y]
    if class_names is None:
        class_names = tuple(sorted(set(strings)))
    index = {n: i for i, n in enumerate(class_names)}
    unknown = sorted(set(strings) - set(index))
    if unknown:
        raise ValueError(
            f"{name} holds labels that are not class names: {', '.join(map(repr, unknown[:5]))}. "
            f"Known: {', '.join(class_names)}."
        )
    _check_at_least_two(class_names, name)
    return np.array([index[s] for s in strings], dtype=np.int32), class_names, False


def _encode_ids(y, class_names, name):
    values = _as_numbers(y, name)
    if np.isnan(values).any():
        raise ValueError(
            f"{name} holds NaN labels (first at index {int(np.argmax(np.isnan(values)))}). "
            "Every image needs a class; drop the unlabelled ones."
        )
    fractional = values != np.round(values)
    if fractional.any():
        i = int(np.argmax(fractional))
        raise ValueError(
            f"{name}[{i}] is {values[i]:g}; class ids are whole numbers 0..C-1."
        )
    num_classes = len(class_names) if class_names is not None else int(values.max()) + 1
    outside = (values < 0) | (values >= num_classes)
    if outside.any():
        i = int(np.argmax(outside))
        source = "class_names has" if class_names is not None else "there are"
        raise ValueError(
            f"Label {values[i]:g} ({name}[{i}]) is outside 0..{num_classes - 1}: "
            f"{source} {num_classes} classes. Class ids run from 0 to the number of classes - 1."
        )
    if class_names is None:
        class_names = tuple(str(i) for i in range(num_classes))
    _check_at_least_two(class_names, name)
    return values.astype(np.int32), class_names, False


def _as_numbers(y, name):
    try:
        return np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must hold class ids, class names (strings) or multi-hot 0/1 values. "
            f"Received dtype {y.dtype}"
        ) from None


def _check_at_least_two(class_names, name):
    if len(class_names) < 2:
        raise ValueError(
            f"{name} holds a single class ({', '.join(map(repr, class_names))}); a classifier "
            "needs at least 2 classes."
        )


def _check_classes_present(labels, class_names, multi_label):
    if multi_label:
        if not labels.any():
            raise ValueError("y holds no positive label (every multi-hot row is all 0).")
        return
    present = np.unique(labels)
    if len(present) < 2:
        only = ", ".join(repr(class_names[i]) for i in present) or "none"
        raise ValueError(
            f"y holds examples of a single class ({only}) out of {len(class_names)}; "
            "a classifier needs examples of at least 2 classes."
        )
