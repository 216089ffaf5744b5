"""`BackbonePreprocessing`: a backbone's own `preprocess_input`, as a graph layer."""

import keras
from keras import ops

from tfl.serialization import keras_serializable

_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)
MODES = ("caffe", "tf", "torch", "none")


@keras_serializable
class BackbonePreprocessing(keras.layers.Layer):
    """Maps RGB pixels in [0, 255] to what a `keras.applications` backbone expects.

    The same arithmetic as each family's `preprocess_input`, inside the model,
    so a saved or exported model takes raw pixels.

    Args:
        mode: "caffe" (RGB to BGR, ImageNet channel means subtracted; VGG,
            ResNet), "tf" (scaled to [-1, 1]; Inception, Xception, MobileNet
            v1/v2, ResNetV2, NASNet), "torch" (scaled to [0, 1], then ImageNet
            mean and std; DenseNet), or "none" (the backbone preprocesses
            itself; EfficientNet, ConvNeXt, MobileNetV3).
        **kwargs: passed to `keras.layers.Layer`.

    Examples:

    >>> layer = BackbonePreprocessing("tf")
    >>> layer(np.array([[[[0.0, 127.5, 255.0]]]])).numpy().tolist()
    [[[[-1.0, 0.0, 1.0]]]]
    """

    def __init__(self, mode, **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"Unknown preprocessing mode {mode!r}. Known: {', '.join(MODES)}.")
        self.mode = mode

    def call(self, images):
        images = ops.cast(images, self.compute_dtype)
        if self.mode == "caffe":
            return ops.flip(images, axis=-1) - ops.convert_to_tensor(_CAFFE_MEAN_BGR, self.compute_dtype)
        if self.mode == "tf":
            return images / 127.5 - 1.0
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_TORCH_MEAN, self.compute_dtype)
            std = ops.convert_to_tensor(_TORCH_STD, self.compute_dtype)
            return (images / 255.0 - mean) / std
        return images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode})
        return config
