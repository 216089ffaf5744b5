"""Pooling a text encoder's token outputs into one vector per example."""

import keras

from tfl.serialization import keras_serializable


@keras_serializable
class MaskedMeanPooling(keras.layers.Layer):
    """The mean of the token vectors where `padding_mask` is true.

    Padding never counts, so an example's vector does not depend on how much
    padding its batch has (the sentence-transformers pooling of MiniLM).

    Call arguments:
        sequence: float tensor `[batch, tokens, dim]`.
        padding_mask: bool or 0/1 tensor `[batch, tokens]`.

    Examples:

    >>> MaskedMeanPooling()(np.ones((1, 3, 2)), np.array([[1, 1, 0]]))
    <tf.Tensor: shape=(1, 2), ... numpy=array([[1., 1.]], dtype=float32)>
    """

    def call(self, sequence, padding_mask):
        mask = keras.ops.cast(padding_mask, sequence.dtype)[..., None]
        total = keras.ops.sum(sequence * mask, axis=1)
        count = keras.ops.maximum(keras.ops.sum(mask, axis=1), 1.0)
        return total / count

    def compute_output_shape(self, sequence_shape, padding_mask_shape=None):
        return (sequence_shape[0], sequence_shape[-1])


@keras_serializable
class FirstTokenPooling(keras.layers.Layer):
    """The vector of the first token ([CLS] or <s>), for encoders without a pooler.

    Examples:

    >>> FirstTokenPooling()(np.arange(6.0).reshape(1, 3, 2))
    <tf.Tensor: shape=(1, 2), ... numpy=array([[0., 1.]], dtype=float32)>
    """

    def call(self, sequence):
        return sequence[:, 0, :]

    def compute_output_shape(self, sequence_shape):
        return (sequence_shape[0], sequence_shape[-1])


@keras_serializable
class BidirectionalLSTMPooling(keras.layers.Layer):
    """A bidirectional LSTM over the token vectors, padding masked out; its two
    final states, concatenated, are the example's vector.

    Args:
        units: LSTM units per direction; the output has `2 * units`.
        **kwargs: passed to `keras.layers.Layer`.

    Examples:

    >>> pooling = BidirectionalLSTMPooling(units=4)
    >>> pooling(np.ones((2, 5, 8)), np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])).shape
    TensorShape([2, 8])
    """

    def __init__(self, units=64, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.lstm = keras.layers.Bidirectional(keras.layers.LSTM(units), name="bilstm")

    def build(self, sequence_shape, padding_mask_shape=None):
        self.lstm.build(sequence_shape)

    def call(self, sequence, padding_mask):
        return self.lstm(sequence, mask=keras.ops.cast(padding_mask, "bool"))

    def compute_output_shape(self, sequence_shape, padding_mask_shape=None):
        return (sequence_shape[0], 2 * self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}
