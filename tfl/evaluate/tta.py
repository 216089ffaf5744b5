"""Test-time augmentation ("flip TTA"): a model's outputs on the images and on
their left-right mirror images, averaged."""

import tensorflow as tf


def check_tta(model):
    """Raises unless `model` (a `tfl.model.Classifier`) reads images only."""
    if model.task != "image":
        raise ValueError(
            "Test-time augmentation mirrors images left to right; it needs an image model. "
            f"Received: a model of task {model.task!r} ({model.name!r}). Evaluate or predict without tta "
            "(drop --tta)."
        )


def flip_images(inputs):
    """`inputs` with its images mirrored left to right: a dict's `"images"`
    entry (the other entries as they are) or an image batch `[N, H, W, C]`.

    Examples:

    >>> flipped = flip_images({"images": tf.constant([[[[1.0], [2.0], [3.0]]]])})
    >>> flipped["images"].numpy().reshape(-1).tolist()
    [3.0, 2.0, 1.0]
    """
    if isinstance(inputs, dict):
        if "images" not in inputs:
            raise ValueError(
                f"Test-time augmentation flips the 'images' input. Received: inputs {sorted(inputs)}."
            )
        return {**inputs, "images": tf.reverse(inputs["images"], axis=[2])}
    return tf.reverse(inputs, axis=[2])


def flip_averaged(model, inputs):
    """The mean of `model(inputs)` and `model` on the mirrored images (inference mode)."""
    return (model(inputs, training=False) + model(flip_images(inputs), training=False)) / 2
