"""Finding and freezing the BatchNormalization layers of a model."""

import keras


def batchnorm_layers(model):
    """All `BatchNormalization` layers in `model`, nested models included."""
    found = []
    for layer in model.layers if isinstance(model, keras.Model) else []:
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
    """
    for layer in batchnorm_layers(model):
        layer.trainable = False
    return model
