"""evaluate_model end to end (write_json and to_json: tests/test_io.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfl.evaluate import classification_metrics
from tfl.evaluate import evaluate_model


@pytest.mark.parametrize(
    "labels, multi_label",
    [
        pytest.param(lambda rng: rng.integers(0, 3, size=12), False, id="single_label"),
        pytest.param(lambda rng: rng.integers(0, 2, size=(12, 3)), True, id="multi_label"),
    ],
)
def test_evaluate_model_scores_the_model_outputs(labels, multi_label):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 4)).astype("float32")
    y = labels(rng)
    activation = "sigmoid" if multi_label else "softmax"
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation=activation)])
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(5)
    names = ["a", "b", "c"]
    report = evaluate_model(model, dataset, names, multi_label=multi_label)
    expected = classification_metrics(
        y, np.asarray(model(x)), names, multi_label=multi_label
    )
    assert report == expected
