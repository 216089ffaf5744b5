"""Random augmentation before the backbone, active only in training."""

import keras

from tfl.serialization import keras_serializable


@keras_serializable
class Augmentation(keras.Sequential):
    """A `keras.Sequential` of random image layers that runs in inference mode
    unless it is called in training (`fit`, or `training=True`).

    Keras' random image layers default to `training=True`: in a model called
    without `training` (`model(x)`, `model.feature_model()(x)`) they would
    augment, and pass training mode on to the layers after them (dropout).

    Examples:

    >>> augmentation = build_augmentation({"flip": "horizontal"}, seed=0)
    >>> images = np.arange(12.0).reshape(1, 2, 2, 3)
    >>> bool(np.all(augmentation(images) == images))
    True
    """

    def call(self, inputs, training=False, mask=None, **kwargs):
        return super().call(inputs, training=training, mask=mask, **kwargs)


def build_augmentation(augmentation, seed=None):
    """Returns an `Augmentation` (a `keras.Sequential`) of random layers, or None if all are off.

    Args:
        augmentation: a dict with the fields of `tfl.config.AugmentationConfig`
            (flip, rotation, zoom, contrast).
        seed: seed of the random layers.

    Examples:

    >>> augmentation = build_augmentation({"flip": "horizontal", "rotation": 0.1, "zoom": 0.0, "contrast": 0.0}, seed=0)
    >>> [type(layer).__name__ for layer in augmentation.layers]
    ['RandomFlip', 'RandomRotation']
    >>> build_augmentation({"flip": None, "rotation": 0.0, "zoom": 0.0, "contrast": 0.0}) is None
    True
    """
    layers = []
    if augmentation.get("flip"):
        layers.append(keras.layers.RandomFlip(augmentation["flip"], seed=seed, name="flip"))
    if augmentation.get("rotation"):
        layers.append(keras.layers.RandomRotation(augmentation["rotation"], seed=seed, name="rotation"))
    if augmentation.get("zoom"):
        layers.append(keras.layers.RandomZoom(augmentation["zoom"], seed=seed, name="zoom"))
    if augmentation.get("contrast"):
        layers.append(
            keras.layers.RandomContrast(augmentation["contrast"], value_range=(0, 255), seed=seed, name="contrast")
        )
    return Augmentation(layers, name="augmentation") if layers else None
