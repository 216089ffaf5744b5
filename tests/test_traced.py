"""`traced`: one model's function is not counted with other models' by
TensorFlow's retracing warning, which still fires for a function that
really traces again and again; and tfl's per-model functions use it."""

import io
import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.evaluate.predict import predict_dataset
from tfl.model import batchnorm_layers
from tfl.model import build_model
from tfl.traced import traced
from tfl.train import recalibrate_batchnorm

SPEC = [tf.TensorSpec([None], tf.float32)]


@pytest.fixture
def tensorflow_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    tf.get_logger().addHandler(handler)
    yield stream
    tf.get_logger().removeHandler(handler)


def _one_trace_each(make):
    for i in range(8):  # eight models, one function and one trace each, as eight folds make
        weight = tf.Variable(float(i))
        function = make(lambda x, weight=weight: x * weight, input_signature=SPEC)
        function(tf.constant([1.0]))
        function(tf.constant([1.0, 2.0]))


def test_plain_tf_functions_of_one_code_location_are_counted_together(tensorflow_log):
    _one_trace_each(tf.function)  # the sentinel: what TensorFlow does on its own
    assert "triggered tf.function retracing" in tensorflow_log.getvalue()


def test_traced_functions_are_counted_each_on_their_own(tensorflow_log):
    _one_trace_each(traced)
    assert "retracing" not in tensorflow_log.getvalue()


def test_a_traced_function_that_retraces_still_warns(tensorflow_log):
    square = traced(lambda x: x * x)
    for n in range(1, 9):  # a new shape on every call: a trace on every call
        square(tf.ones([n]))
    assert "triggered tf.function retracing" in tensorflow_log.getvalue()


def test_predicting_with_many_fresh_models_logs_no_retracing(tensorflow_log):
    x, y = np.ones((6, 4), "float32"), np.arange(6) % 3
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(2)
    for _ in range(7):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        assert predict_dataset(model, dataset)[1].shape == (6, 3)
    assert "retracing" not in tensorflow_log.getvalue()


def test_recalibrating_batchnorm_of_many_fresh_models_logs_no_retracing(tensorflow_log):
    data = tiny_image_data(n=10, batch_size=4)  # a short last batch: the same trace
    for _ in range(6):
        model = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), data.class_names)
        assert recalibrate_batchnorm(model, data.train, batchnorm_layers(model.backbone)) == 10
    assert "retracing" not in tensorflow_log.getvalue()
