"""predict_dataset on a tiny Keras model over tf.data; top_k."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfl.evaluate import predict_dataset
from tfl.evaluate import top_k

NUM_EXAMPLES = 10


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(NUM_EXAMPLES, 4)).astype("float32")
    y = np.arange(NUM_EXAMPLES)  # label i belongs to row i: order is visible
    return x, y


def _tensor_model():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])


def _dict_model():
    inputs = keras.Input((4,), name="x")
    return keras.Model({"x": inputs}, keras.layers.Dense(3, activation="softmax")(inputs))


@pytest.mark.parametrize(
    "make_model, as_inputs, batch_size",
    [
        pytest.param(_tensor_model, lambda x: x, 4, id="tensors_partial_last_batch"),
        pytest.param(_tensor_model, lambda x: x, 5, id="tensors_equal_batches"),
        pytest.param(_dict_model, lambda x: {"x": x}, 3, id="dict_inputs"),
        pytest.param(_tensor_model, lambda x: x, 32, id="one_batch"),
    ],
)
def test_predict_dataset_keeps_order_and_matches_model(make_model, as_inputs, batch_size):
    x, y = _data()
    model = make_model()
    dataset = tf.data.Dataset.from_tensor_slices((as_inputs(x), y)).batch(batch_size)
    y_true, y_prob = predict_dataset(model, dataset)
    assert y_true.tolist() == y.tolist()
    np.testing.assert_allclose(y_prob, model(as_inputs(x)), rtol=1e-6, atol=1e-7)


def test_predict_dataset_keeps_labels_with_their_rows_when_shuffled():
    x, y = _data()
    model = _tensor_model()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(10, seed=1).batch(3)
    y_true, y_prob = predict_dataset(model, dataset)
    assert y_true.tolist() != y.tolist()  # the shuffle did reorder
    np.testing.assert_allclose(y_prob, model(x[y_true]), rtol=1e-6, atol=1e-7)


class _CountCalls(keras.layers.Layer):
    """Identity that counts how often its Python `call` runs (once per trace)."""

    calls = 0

    def call(self, inputs):
        _CountCalls.calls += 1
        return inputs


def test_predict_dataset_traces_once_and_never_uses_predict(monkeypatch):
    x, y = _data()
    model = keras.Sequential(
        [keras.Input((4,)), _CountCalls(), keras.layers.Dense(3, activation="softmax")]
    )
    monkeypatch.setattr(model, "predict", lambda *args, **kwargs: pytest.fail("predict called"))
    _CountCalls.calls = 0
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)  # 4, 4, then 2
    predict_dataset(model, dataset)
    assert _CountCalls.calls == 1


@pytest.mark.parametrize(
    "make_dataset, match",
    [
        pytest.param(
            lambda: tf.data.Dataset.from_tensor_slices(np.zeros((4, 4), "float32")).batch(2),
            r"\(inputs, labels\) pairs. Received: element_spec=TensorSpec",
            id="inputs_only",
        ),
        pytest.param(
            lambda: tf.data.Dataset.from_tensor_slices(
                (np.zeros((0, 4), "float32"), np.zeros((0,), "int64"))
            ).batch(2),
            "empty dataset",
            id="empty",
        ),
    ],
)
def test_predict_dataset_rejects(make_dataset, match):
    with pytest.raises(ValueError, match=match):
        predict_dataset(_tensor_model(), make_dataset())


def test_predict_dataset_rejects_a_model_with_several_outputs():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, [keras.layers.Dense(3)(inputs), keras.layers.Dense(2)(inputs)])
    x, y = _data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    with pytest.raises(ValueError, match="one output tensor. Received: an output of type list"):
        predict_dataset(model, dataset)


@pytest.mark.parametrize(
    "probabilities, k, expected",
    [
        pytest.param(
            [[0.1, 0.7, 0.2]], 2, [[("b", 0.7), ("c", 0.2)]], id="most_probable_first"
        ),
        pytest.param(
            [[0.4, 0.2, 0.4]],
            3,
            [[("a", 0.4), ("c", 0.4), ("b", 0.2)]],
            id="ties_keep_column_order",
        ),
        pytest.param(
            [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]],
            1,
            [[("a", 0.5)], [("c", 0.8)]],
            id="one_list_per_example",
        ),
    ],
)
def test_top_k(probabilities, k, expected):
    assert top_k(np.array(probabilities, dtype="float64"), ["a", "b", "c"], k) == expected


def test_top_k_returns_plain_floats_from_float32():
    (result,) = top_k(np.array([[0.25, 0.75]], "float32"), ["a", "b"], 1)
    assert type(result[0][1]) is float and result == [("b", 0.75)]


@pytest.mark.parametrize(
    "probabilities, names, k, match",
    [
        pytest.param([[0.5, 0.5]], ["a", "b"], 3, r"from 1 to 2 .* Received: k=3",
                     id="k_too_large"),
        pytest.param([[0.5, 0.5]], ["a", "b"], 0, r"Received: k=0", id="k_zero"),
        pytest.param([[0.5, 0.5]], ["a", "b", "c"], 1, "2 columns but class_names has 3",
                     id="names_mismatch"),
        pytest.param([0.5, 0.5], ["a", "b"], 1, r"shape \(2,\)", id="not_2d"),
        pytest.param([[0.5, np.nan]], ["a", "b"], 1, r"nan at probabilities\[0, 1\]", id="nan"),
    ],
)  # fmt: skip
def test_top_k_rejects(probabilities, names, k, match):
    with pytest.raises(ValueError, match=match):
        top_k(probabilities, names, k)
