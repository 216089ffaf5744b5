"""`small_cnn`: a small convolutional network trained from scratch, with named stages."""

import collections
import re

import keras

SMALL_CNN = "small_cnn"
SMALL_CNN_PREPROCESSING = "tf"  # pixels scaled to [-1, 1]
_BLOCK = re.compile(r"^(block\d+)_")


def small_cnn(image_size=(32, 32), filters=(16, 32), *, name=SMALL_CNN):
    """A headless convolutional network: one block per entry of `filters`.

    Each block `block{k}` is a 3x3 convolution with ReLU and a 2x2 max
    pooling; there is no BatchNorm, so nothing needs recalibrating after
    training from scratch. Its input is pixels scaled to [-1, 1] (tfl's
    `BackbonePreprocessing("tf")`); its output is the last feature map.
    Each block is one named stage for unfreezing (see `small_cnn_stages`).

    Args:
        image_size: (height, width) of its input, or an int.
        filters: the number of filters of each block, from input to output.
        name: the model's name.

    Returns:
        A functional `keras.Model`.

    Examples:

    >>> cnn = small_cnn((32, 32), filters=(8, 16))
    >>> cnn.output.shape
    (None, 8, 8, 16)
    >>> list(small_cnn_stages(cnn))
    ['block1', 'block2']
    """
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    filters = tuple(filters)
    if not filters or not all(isinstance(f, int) and not isinstance(f, bool) and f >= 1 for f in filters):
        raise ValueError(f"filters must be one whole number >= 1 per block. Received: filters={filters!r}")
    height, width = (int(v) for v in image_size)
    if min(height, width) < 2 ** len(filters):
        raise ValueError(
            f"{len(filters)} blocks halve the image {len(filters)} times and need at least "
            f"{2 ** len(filters)}x{2 ** len(filters)} pixels. Received: image_size={(height, width)}. "
            "Use fewer filters or larger images."
        )
    images = keras.Input(shape=(height, width, 3), name=f"{name}_input")
    x = images
    for k, count in enumerate(filters, start=1):
        x = keras.layers.Conv2D(count, 3, padding="same", activation="relu", name=f"block{k}_conv")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{k}_pool")(x)
    return keras.Model(images, x, name=name)


def small_cnn_stages(model):
    """The layers of a `small_cnn` per block: {"block1": [...], ...}, input to output.

    Examples:

    >>> stages = small_cnn_stages(small_cnn(image_size=(32, 32)))
    >>> {name: [layer.name for layer in layers] for name, layers in stages.items()}
    {'block1': ['block1_conv', 'block1_pool'], 'block2': ['block2_conv', 'block2_pool']}
    """
    stages = collections.OrderedDict()
    for layer in model.layers:
        match = _BLOCK.match(layer.name)
        if match:
            stages.setdefault(match.group(1), []).append(layer)
    return stages
