"""The shared tail of every source: decode, resize, cache, shuffle, batch, prefetch.

A source (a folder, arrays, TFDS) hands `build_pipeline` a dataset of
`(raw, label)` pairs and a function turning one `raw` into a uint8 RGB image of
the target size. Decoding and resizing live here once, so training, evaluation,
`load_images` and the export's `serving_default` see exactly the same pixels.

Resizing is "crop" (the default: centre-crop the largest box with the target's
aspect ratio, then resize) or "stretch" (resize the whole image). "crop"
follows the rule of `keras.layers.Resizing(crop_to_aspect_ratio=True)`, the
models' own resizing layer, so an image this module crops is at the target
size and the layer leaves it as it is.
"""

import numbers

import tensorflow as tf

from tfl.config.data_config import check_resize
from tfl.data.order import balanced_each_epoch
from tfl.data.order import shuffle_each_epoch

AUTOTUNE = tf.data.AUTOTUNE


def normalize_image_size(image_size):
    """Returns `(height, width)` from one int (a square) or a pair of ints.

    Args:
        image_size: an int, or a `(height, width)` pair of positive ints.

    Examples:

    >>> normalize_image_size(32)
    (32, 32)
    """
    if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    try:
        height, width = image_size
        valid = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in image_size)
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(
            "image_size is (height, width) in pixels, or one int for a square. "
            f"Received: image_size={image_size!r}"
        )
    return (int(height), int(width))


def to_rgb(image):
    """Makes an image of 1 to 4 channels an image of 3 channels.

    Grey (1 channel) and grey with alpha (2 channels) repeat the grey value;
    the alpha channel of RGBA is dropped, as PIL's `convert("RGB")` does.
    """
    channels = tf.shape(image)[-1]
    index = tf.where(channels < 3, tf.zeros([3], tf.int32), tf.range(3))
    return tf.gather(image, index, axis=-1)


def decode_image(contents):
    """Decodes JPEG, PNG, GIF or BMP bytes to float32 `[h, w, 3]` in [0, 255].

    A 16-bit PNG keeps its precision until the final rounding (65535 -> 255,
    value v -> v / 257); an animated GIF gives its first frame.
    """
    image = tf.io.decode_image(contents, channels=0, dtype=tf.float32, expand_animations=False)
    image.set_shape([None, None, None])
    return to_rgb(image) * 255.0


def crop_box(height, width, image_size):
    """The centred box with the aspect ratio of `image_size` that an image of
    `height` x `width` pixels holds, as large as it fits.

    The rule of `keras.layers.Resizing(crop_to_aspect_ratio=True)`: the box is
    `min(height, floor(width * th / tw))` rows by `min(width, floor(height *
    tw / th))` columns (at least 1 each), for `image_size = (th, tw)`, starting
    `floor((height - rows) / 2)` rows and `floor((width - columns) / 2)`
    columns in. An image already of that aspect ratio is its own box.

    Args:
        height: the image's height, an int or a scalar integer tensor.
        width: the image's width, likewise.
        image_size: `(th, tw)`, the target size.

    Returns:
        `(top, left, rows, columns)`, int32 scalar tensors.

    Examples:

    >>> [int(v) for v in crop_box(40, 80, (32, 32))]
    [0, 20, 40, 40]
    """
    target_height, target_width = image_size
    height = tf.cast(height, tf.int64)
    width = tf.cast(width, tf.int64)
    rows = tf.clip_by_value(width * target_height // target_width, 1, height)
    columns = tf.clip_by_value(height * target_width // target_height, 1, width)
    box = ((height - rows) // 2, (width - columns) // 2, rows, columns)
    return tuple(tf.cast(v, tf.int32) for v in box)


def crop_to_aspect_ratio(image, image_size):
    """Centre-crops a `[h, w, c]` image of any dtype to the aspect ratio of
    `image_size` (see `crop_box`): a slice, no resampling."""
    shape = tf.shape(image)
    top, left, rows, columns = crop_box(shape[0], shape[1], image_size)
    return image[top : top + rows, left : left + columns]


def fit_to_size(image, image_size, resize="crop"):
    """Resizes a `[h, w, c]` image to `image_size` (bilinear), first cropping
    it to the target's aspect ratio when `resize` is "crop".

    Args:
        image: an image of any real dtype; the resize computes in float32.
        image_size: `(height, width)`.
        resize: "crop" or "stretch".

    Returns:
        A float32 `[height, width, c]` image.
    """
    if check_resize(resize) == "crop":
        image = crop_to_aspect_ratio(image, image_size)
    return tf.image.resize(image, image_size, method="bilinear")


def resize_to_uint8(image, image_size, resize="crop"):
    """Resizes a float `[h, w, 3]` image in [0, 255] (see `fit_to_size`) and rounds it to uint8."""
    return _to_uint8(fit_to_size(image, image_size, resize), image_size)


def _to_uint8(image, image_size):
    image = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
    return tf.ensure_shape(image, [*image_size, 3])


def _is_16bit_png(contents):
    # A PNG's first chunk is IHDR; its bit depth is byte 24 of the file.
    return tf.logical_and(
        tf.equal(tf.strings.substr(contents, 0, 4), b"\x89PNG"),
        tf.equal(tf.strings.substr(contents, 24, 1), b"\x10"),
    )


def decode_resized(contents, image_size, resize="crop"):
    """Decodes JPEG, PNG, GIF or BMP bytes and resizes them to uint8 `[height, width, 3]`.

    The image is cropped (with `resize="crop"`, a slice) and resized in the
    dtype it decodes to (uint8, or uint16 for a 16-bit PNG, whose value v
    becomes v / 257), before any conversion to float or to 3 channels: a
    100-megapixel photo costs its decoded size once in memory (300 MB for
    RGB), not the 4.4 GB of full-size float copies that
    `resize_to_uint8(decode_image(contents), ...)` makes. Grey and grey with
    alpha become RGB, alpha is dropped, an animated GIF gives its first frame.

    Args:
        contents: a scalar string tensor of encoded image bytes.
        image_size: `(height, width)`.
        resize: "crop" (centre-crop to the aspect ratio of `image_size`, then
            resize) or "stretch" (resize the whole image).
    """
    check_resize(resize)

    def wide():
        image = tf.io.decode_png(contents, channels=0, dtype=tf.uint16)
        return fit_to_size(image, image_size, resize) / 257.0

    def narrow():
        image = tf.io.decode_image(contents, channels=0, expand_animations=False)
        image.set_shape([None, None, None])
        return fit_to_size(image, image_size, resize)

    return _to_uint8(to_rgb(tf.cond(_is_16bit_png(contents), wide, narrow)), image_size)


def load_image_file(path, image_size, resize="crop"):
    """Reads, decodes and resizes one image file to uint8 `[height, width, 3]` (see `decode_resized`)."""
    return decode_resized(tf.io.read_file(path), image_size, resize)


def build_pipeline(
    dataset, load_fn, *, num_examples, batch_size, seed, cache, shuffle, shuffle_buffer=None, balanced_classes=None
):
    """Turns `(raw, label)` pairs into batches of `({"images": float32}, labels)`.

    Args:
        dataset: a `tf.data.Dataset` of `(raw, label)` pairs, in a fixed order.
        load_fn: maps one `raw` to a uint8 `[height, width, 3]` image.
        num_examples: the number of pairs; the shuffle buffer holds them all.
        batch_size: examples per batch (the last batch may be smaller).
        seed: the shuffle seed.
        cache: keep the resized uint8 images in memory after the first pass.
        shuffle: shuffle, with a new order each epoch (training data only).
        shuffle_buffer: a smaller buffer for sources too large to hold whole
            when not cached. Defaults to `num_examples`.
        balanced_classes: with `shuffle`, the number of classes to draw
            equally often (`balanced_each_epoch`) instead of shuffling; None
            shuffles.

    Returns:
        A batched, prefetched `tf.data.Dataset`; images are float32 `[B, H, W, 3]`
        with values in [0, 255].

    Examples:

    >>> pairs = tf.data.Dataset.from_tensor_slices((["a.png", "b.png"], [0, 1]))
    >>> ds = build_pipeline(pairs, lambda p: load_image_file(p, (32, 32)),
    ...     num_examples=2, batch_size=2, seed=1, cache=True, shuffle=True)
    """
    buffer = max(1, shuffle_buffer or num_examples)

    def shuffled(ds):
        if balanced_classes:
            return balanced_each_epoch(ds, balanced_classes, num_examples, seed)
        return shuffle_each_epoch(ds, buffer, seed)

    # Without a cache, shuffle the cheap raw items (paths, bytes) before decoding;
    # with one, shuffle after it, or every epoch would replay the first order.
    if shuffle and not cache:
        dataset = shuffled(dataset)
    dataset = dataset.map(lambda raw, label: (load_fn(raw), label), num_parallel_calls=AUTOTUNE)
    if cache:
        dataset = dataset.cache()
        if shuffle:
            dataset = shuffled(dataset)
    dataset = dataset.batch(batch_size)
    dataset = dataset.map(
        lambda images, labels: ({"images": tf.cast(images, tf.float32)}, labels),
        num_parallel_calls=AUTOTUNE,
    )
    return dataset.prefetch(AUTOTUNE)
