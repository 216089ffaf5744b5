"""Random augmentation before the backbone, active only in training."""

import keras


def build_augmentation(augmentation, seed=None):
    """Returns a `keras.Sequential` of random layers, or None if all are off.

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
    return keras.Sequential(layers, name="augmentation") if layers else None
