"""MixUp and CutMix: each training batch mixed with itself in reverse order, with soft targets.

MixUp (Zhang et al. 2018) blends two images, `lam * a + (1 - lam) * b`;
CutMix (Yun et al. 2019) pastes a box of `b` into `a` and sets `lam` to the
share of `a` left. Either way the target is `lam * onehot(a) + (1 - lam) *
onehot(b)`, with `lam ~ Beta(alpha, alpha)` drawn per batch. With both on,
each batch uses one of them, chosen with equal chance (timm's switch).
"""

import math

import tensorflow as tf


def mix_batches(dataset, num_classes, *, mixup=0.0, cutmix=0.0, seed=0):
    """Batches of `({"images": mixed, ...}, soft targets [B, num_classes])`.

    Args:
        dataset: batches of `({"images": [B, H, W, 3], ...}, class ids [B])`.
        num_classes: the number of classes (the targets' width).
        mixup: MixUp's Beta `alpha` (0 turns it off), e.g. 0.2.
        cutmix: CutMix's Beta `alpha` (0 turns it off), e.g. 1.0.
        seed: the seed of the draws (`lam`, the box, the switch).

    Examples:

    >>> pairs = tf.data.Dataset.from_tensor_slices(({"images": tf.ones([4, 8, 8, 3])}, [0, 1, 2, 0])).batch(4)
    >>> inputs, targets = next(iter(mix_batches(pairs, 3, mixup=0.2)))
    >>> targets.shape, bool(tf.reduce_all(tf.abs(tf.reduce_sum(targets, -1) - 1) < 1e-6))
    (TensorShape([4, 3]), True)
    """
    for name, alpha in (("mixup", mixup), ("cutmix", cutmix)):
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha < math.inf:
            raise ValueError(
                f"{name} is the alpha of a Beta distribution, finite and >= 0 (0: off). Received: {name}={alpha!r}"
            )
    if not mixup and not cutmix:
        raise ValueError("mix_batches needs mixup > 0 or cutmix > 0. Received: mixup=0, cutmix=0")
    inputs, labels = dataset.element_spec
    if not isinstance(inputs, dict) or "images" not in inputs or labels.shape.rank != 1 or not labels.dtype.is_integer:
        raise ValueError(
            "MixUp and CutMix mix image batches of single-label data: ({'images': [B, H, W, 3]}, class ids [B]). "
            f"Received: element_spec={dataset.element_spec!r}"
        )
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def mix(batch, draw):
        inputs, labels = batch
        images = tf.cast(inputs["images"], tf.float32)
        targets = tf.one_hot(labels, num_classes)
        use_cutmix = _switch(draw, mixup, cutmix)
        mixed, lam = tf.cond(
            use_cutmix,
            lambda: _cutmix(images, _beta(draw, cutmix or 1.0, 1), draw),
            lambda: _mixup(images, _beta(draw, mixup or 1.0, 2)),
        )
        targets = lam * targets + (1.0 - lam) * tf.reverse(targets, [0])
        return {**inputs, "images": mixed}, targets

    return tf.data.Dataset.zip((dataset, draws)).map(mix, num_parallel_calls=tf.data.AUTOTUNE)


def _switch(draw, mixup, cutmix):
    if mixup and cutmix:
        return tf.random.stateless_uniform([], seed=tf.stack([draw, 0])) < 0.5
    return tf.constant(bool(cutmix))


def _beta(draw, alpha, stream):
    """`lam ~ Beta(alpha, alpha)` from two Gamma draws."""
    first = tf.random.stateless_gamma([], seed=tf.stack([draw, 10 * stream + 1]), alpha=alpha)
    second = tf.random.stateless_gamma([], seed=tf.stack([draw, 10 * stream + 2]), alpha=alpha)
    return first / tf.maximum(first + second, 1e-12)


def _mixup(images, lam):
    return lam * images + (1.0 - lam) * tf.reverse(images, [0]), lam


def _cutmix(images, lam, draw):
    """The reversed batch pasted into a box of `1 - lam` of the area (clipped
    at the borders); returns the images and the share of each image left."""
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    ratio = tf.sqrt(1.0 - lam)
    box_height = tf.cast(tf.cast(height, tf.float32) * ratio, tf.int32)
    box_width = tf.cast(tf.cast(width, tf.float32) * ratio, tf.int32)
    centre = tf.random.stateless_uniform([2], seed=tf.stack([draw, 3]))
    centre_y = tf.cast(centre[0] * tf.cast(height, tf.float32), tf.int32)
    centre_x = tf.cast(centre[1] * tf.cast(width, tf.float32), tf.int32)
    top, bottom = tf.maximum(centre_y - box_height // 2, 0), tf.minimum(centre_y + box_height // 2, height)
    left, right = tf.maximum(centre_x - box_width // 2, 0), tf.minimum(centre_x + box_width // 2, width)
    rows = tf.logical_and(tf.range(height) >= top, tf.range(height) < bottom)
    columns = tf.logical_and(tf.range(width) >= left, tf.range(width) < right)
    box = tf.cast(tf.logical_and(rows[:, None], columns[None, :]), tf.float32)[None, :, :, None]
    mixed = images * (1.0 - box) + tf.reverse(images, [0]) * box
    pasted = tf.cast((bottom - top) * (right - left), tf.float32) / tf.cast(height * width, tf.float32)
    return mixed, 1.0 - pasted
