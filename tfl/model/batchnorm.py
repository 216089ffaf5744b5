"""Finding and freezing the BatchNormalization layers of a model."""

import keras


def batchnorm_layers(model):
    """All `BatchNormalization` layers in `model`, nested models included.

    `model` is a Keras model, or a fusion model's `backbone` (a
    `BranchBackbones`, whose `layers` are every branch's): what
    `Stage(recalibrate_batchnorm=True)` recomputes.

    Examples:

    >>> model = tfl.build_model(tfl.ModelConfig(backbone="mobilenet_v3_small", weights=None, image_size=32), ["cat", "dog"])
    >>> layers = batchnorm_layers(model)
    >>> len(layers), type(layers[0]).__name__
    (34, 'BatchNormalization')
    """
    found = []
    for layer in model.layers if isinstance(model, keras.Model) else getattr(model, "layers", ()):
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(batchnorm_layers(layer))
    return found


def freeze_batchnorm(model):
    """Sets every BatchNormalization layer in `model` to `trainable=False`.

    In Keras 3 such a layer always runs in inference mode, using and keeping
    its moving statistics, even when `fit` passes `training=True` through the
    model (which overrides `backbone(x, training=False)` in a functional graph).

    Examples:

    >>> frozen = freeze_batchnorm(keras.models.clone_model(model.backbone))
    >>> any(layer.trainable for layer in batchnorm_layers(frozen))
    False
    """
    for layer in batchnorm_layers(model):
        layer.trainable = False
    return model
