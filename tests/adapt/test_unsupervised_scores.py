import keras
import numpy as np
import pytest
import tensorflow as tf

from tfl.adapt.unsupervised_scores import UnsupervisedScores
from tfl.adapt.unsupervised_scores import information_maximization
from tfl.adapt.unsupervised_scores import soft_neighborhood_density
from tfl.adapt.unsupervised_scores import unsupervised_scores

CLASSES = 4


def _confident(n=40, seed=0):
    """Confident, balanced predictions: 90% on the example's class, noise elsewhere."""
    rng = np.random.default_rng(seed)
    p = 0.9 * np.eye(CLASSES)[np.arange(n) % CLASSES] + rng.uniform(0, 0.1, (n, CLASSES))
    return p / p.sum(axis=1, keepdims=True)


def _uniform(n=40):
    return np.full((n, CLASSES), 1.0 / CLASSES)


def _scattered(n=40, seed=0):
    """Predictions spread over the simplex with no cluster structure."""
    return np.random.default_rng(seed).dirichlet(np.ones(CLASSES), n)


def test_im_prefers_confident_balanced_predictions_to_uniform_ones():
    assert information_maximization(_confident()) > 0.5 > information_maximization(_uniform()) == 0.0


def test_im_is_log_k_for_one_hot_balanced_predictions_and_zero_for_a_single_predicted_class():
    assert information_maximization(np.eye(CLASSES)) == pytest.approx(np.log(CLASSES))
    assert information_maximization(np.tile(np.eye(CLASSES)[:1], (5, 1))) == 0.0


def test_snd_prefers_confident_clusters_to_scattered_predictions():
    assert soft_neighborhood_density(_confident()) > soft_neighborhood_density(_scattered())


def test_snd_rates_identical_predictions_highest_so_read_it_with_im():
    # Every example its own neighbour's twin: maximal density, log(N - 1), although nothing was learnt.
    assert soft_neighborhood_density(_uniform(10)) == pytest.approx(np.log(9))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: soft_neighborhood_density(np.ones((2, 3))), "N >= 3"),
        (lambda: soft_neighborhood_density(_uniform(), temperature=0), "temperature=0"),
        (lambda: unsupervised_scores(_uniform(), scores=("im", "ent")), "Unknown score 'ent'"),
        (lambda: UnsupervisedScores(None, scores=("im",), restore_best="snd"), "restore_best='snd'"),
    ],
    ids=["too_few_examples", "zero_temperature", "unknown_score", "restore_by_an_unlogged_score"],
)
def test_bad_arguments_are_refused_naming_the_value(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _model_and_data():
    rng = np.random.RandomState(0)
    x = rng.normal(size=(32, 5)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    return model, x, y


def test_the_callback_logs_the_scores_before_early_stopping_reads_them():
    model, x, y = _model_and_data()
    scores = UnsupervisedScores(tf.data.Dataset.from_tensor_slices(x).batch(16))
    stop = keras.callbacks.EarlyStopping(monitor="target_snd", mode="max", patience=5)

    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[scores, stop]).history

    assert len(history["target_im"]) == len(history["target_snd"]) == 2
    assert history["target_im"][1] == pytest.approx(information_maximization(model.predict(x, verbose=0)))


def test_the_callback_restores_the_weights_of_the_best_epoch():
    model, x, y = _model_and_data()
    scores = UnsupervisedScores(x, scores="im", restore_best="im")
    weights = []
    keep = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: weights.append(model.get_weights()))

    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[scores, keep]).history

    best = int(np.argmax(history["target_im"]))
    assert scores.best_epoch == best and scores.best_score == history["target_im"][best]
    for restored, kept in zip(model.get_weights(), weights[best]):
        np.testing.assert_array_equal(restored, kept)
