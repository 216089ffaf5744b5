"""Flip test-time augmentation in `tfl.predict` and `evaluate_held_out`: the mean
of the model on the images and on their left-right mirror images."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfl
from tests.small_backbone import SMALL_BACKBONE
from tests.text_fakes import tiny_encoder
from tfl.config import ModelConfig
from tfl.evaluate import evaluate_held_out
from tfl.model import TextClassifier
from tfl.model import build_model


@pytest.fixture(scope="module")
def model():
    """A tiny image classifier whose head sees the features at a usable scale
    (a random backbone's pooled features are tiny), so a flip changes its output."""
    keras.utils.set_random_seed(0)  # not whatever random ops ran before in this process
    model = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), ["a", "b", "c"])
    images = np.random.RandomState(0).uniform(0, 255, (16, 32, 32, 3)).astype("float32")
    features = np.asarray(model.feature_model()({"images": images}, training=False))
    kernel, bias = model.head.get_weights()
    # Logits of about unit scale: large ones saturate the softmax, and a flip no longer shows.
    scale = 1.0 / ((features.std(axis=0).mean() + 1e-30) * np.sqrt(features.shape[1]))
    rng = np.random.RandomState(1)
    model.head.set_weights([rng.normal(0, 1, kernel.shape).astype("float32") * scale, bias])
    return model


@pytest.fixture(scope="module")
def images():
    return np.random.RandomState(2).randint(0, 256, (6, 32, 32, 3)).astype("float32")


def _by_hand(model, images):
    plain = np.asarray(model({"images": images}, training=False))
    flipped = np.asarray(model({"images": images[:, :, ::-1].copy()}, training=False))
    assert not np.allclose(plain, flipped, atol=1e-3)  # else the test could not tell a flip from none
    return (plain + flipped) / 2


def test_predict_with_tta_averages_the_images_and_their_mirror_images(model, images):
    predictions = tfl.predict(model, images, tta=True, top_k=3)
    expected = _by_hand(model, images)
    np.testing.assert_allclose(predictions.probabilities, expected, rtol=1e-4, atol=1e-5)
    assert predictions.labels == [model.class_names[i] for i in expected.argmax(axis=1)]
    assert not np.allclose(tfl.predict(model, images).probabilities, expected, atol=1e-4)


def test_evaluate_held_out_with_tta_scores_the_averaged_probabilities(model, images):
    labels = np.array([0, 1, 2, 0, 1, 2])
    dataset = tf.data.Dataset.from_tensor_slices(({"images": images}, labels)).batch(4)
    evaluation = evaluate_held_out(model, dataset, tta=True)
    np.testing.assert_allclose(evaluation.y_prob, _by_hand(model, images), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(evaluation.y_true, labels)


def test_tta_is_refused_for_a_text_model():
    encoder, preprocessor = tiny_encoder()
    model = TextClassifier(encoder, preprocessor, ["bad", "good"], encoder_name="tiny")
    with pytest.raises(ValueError, match="needs an image model. Received: a model of task 'text'"):
        tfl.predict(model, ["a good movie"], tta=True)
    dataset = tf.data.Dataset.from_tensor_slices((preprocessor(tf.constant(["a good movie"])), [1])).batch(1)
    with pytest.raises(ValueError, match="drop --tta"):
        evaluate_held_out(model, dataset, tta=True)
