import keras
import numpy as np
import pytest
import tensorflow as tf

from tfl.adapt.gradient_reversal import GradientReversal

UPSTREAM = np.array([[1.0, -2.0, 0.5], [3.25, 0.0, -7.0]], dtype="float32")


def _forward_and_gradient(layer, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        weighted = tf.reduce_sum(y * UPSTREAM)
    return y.numpy(), tape.gradient(weighted, x).numpy()


@pytest.mark.parametrize("strength", [0.0, 0.3, 1.0, 2.5], ids=["zero", "fraction", "one", "above_one"])
def test_forward_is_the_identity_and_the_gradient_is_minus_strength_times_upstream(strength):
    x = np.random.RandomState(0).normal(size=UPSTREAM.shape).astype("float32")
    y, gradient = _forward_and_gradient(GradientReversal(strength), x)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(gradient, np.float32(-strength) * UPSTREAM)


def test_strength_is_a_non_trainable_variable_that_can_change_without_retracing():
    layer = GradientReversal(1.0)
    x = tf.constant(np.ones(UPSTREAM.shape, "float32"))

    @tf.function
    def gradient():
        with tf.GradientTape() as tape:
            tape.watch(x)
            weighted = tf.reduce_sum(layer(x) * UPSTREAM)
        return tape.gradient(weighted, x)

    first = gradient().numpy()
    layer.strength.assign(0.25)
    second = gradient().numpy()

    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 1
    np.testing.assert_array_equal(first, -UPSTREAM)
    np.testing.assert_array_equal(second, np.float32(-0.25) * UPSTREAM)


def test_keras_round_trip_keeps_the_class_the_initial_strength_and_the_current_strength(tmp_path):
    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(2)(GradientReversal(0.5, name="reverse")(inputs))
    model = keras.Model(inputs, outputs)
    model.get_layer("reverse").strength.assign(0.75)
    x = np.random.RandomState(1).normal(size=(4, 3)).astype("float32")
    model.save(tmp_path / "model.keras")

    loaded = keras.saving.load_model(tmp_path / "model.keras")  # no custom_objects

    layer = loaded.get_layer("reverse")
    assert isinstance(layer, GradientReversal)
    assert layer.get_config()["strength"] == 0.5
    assert float(layer.strength.numpy()) == 0.75
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_negative_strength_is_refused_with_its_value():
    with pytest.raises(ValueError, match=r"strength=-1\.0"):
        GradientReversal(-1.0)
