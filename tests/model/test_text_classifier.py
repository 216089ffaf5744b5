import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.text_fakes import tiny_encoder
from tests.text_fakes import tiny_encoder_folder
from tfl.config import ModelConfig
from tfl.model import BidirectionalLSTMPooling
from tfl.model import MaskedMeanPooling
from tfl.model import TextClassifier
from tfl.model import build_model
from tfl.model import load_model

SENTENCES = ["the cat sat on the mat", "a very good movie", "not fun"]


def _model(pooling="mean", multi_label=False, classes=("neg", "pos", "meh")):
    encoder, preprocessor = tiny_encoder()
    return TextClassifier(
        encoder, preprocessor, list(classes), encoder_name="tiny", pooling=pooling, multi_label=multi_label
    )


@pytest.mark.parametrize("pooling", ["cls", "mean", "lstm"])
def test_outputs_are_probabilities_over_the_classes(pooling):
    model = _model(pooling)
    probabilities = keras.ops.convert_to_numpy(model(model.preprocessor(tf.constant(SENTENCES))))
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_inputs_carry_the_names_the_data_and_export_use():
    model = _model()
    assert sorted(model.input) == ["padding_mask", "segment_ids", "token_ids"]


@pytest.mark.parametrize("pooling", ["cls", "mean", "lstm"])
def test_keras_round_trip_gives_identical_outputs_and_tokenization(tmp_path, pooling):
    model = _model(pooling)
    path = str(tmp_path / "text.keras")
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, TextClassifier)
    assert loaded.class_names == ["neg", "pos", "meh"] and loaded.pooling == pooling
    tokens = model.preprocessor(tf.constant(SENTENCES))
    again = loaded.preprocessor(tf.constant(SENTENCES))
    for name in tokens:
        np.testing.assert_array_equal(tokens[name], again[name])
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(tokens)), keras.ops.convert_to_numpy(loaded(again))
    )


def test_masked_mean_ignores_what_the_padding_holds():
    sequence = np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    changed = sequence.copy()
    changed[0, 3:] = 1e6
    pooled = keras.ops.convert_to_numpy(MaskedMeanPooling()(sequence, mask))
    np.testing.assert_allclose(pooled[0], sequence[0, :3].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(MaskedMeanPooling()(changed, mask)), pooled, rtol=1e-5)


def test_lstm_pooling_ignores_what_the_padding_holds():
    layer = BidirectionalLSTMPooling(units=3)
    sequence = np.random.default_rng(0).normal(size=(1, 6, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 1, 0, 0]])
    changed = sequence.copy()
    changed[0, 4:] = 50.0
    first = keras.ops.convert_to_numpy(layer(sequence, mask))
    assert first.shape == (1, 6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(changed, mask)), first, rtol=1e-5)


def test_mean_pooling_leaves_the_unused_pooler_out_of_the_stages():
    assert list(_model("mean").stage_layers()) == ["embeddings", "layer_0", "layer_1"]
    assert list(_model("cls").stage_layers()) == ["embeddings", "layer_0", "layer_1", "pooler"]


def test_multi_label_outputs_independent_sigmoids():
    model = _model(multi_label=True)
    probabilities = keras.ops.convert_to_numpy(model(model.preprocessor(tf.constant(SENTENCES))))
    assert model.head.activation is keras.activations.sigmoid
    assert not np.allclose(probabilities.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        pytest.param({"pooling": "avg"}, r"Unknown text pooling 'avg'\. Known: cls, mean, lstm", id="pooling"),
        pytest.param({"classes": ("one",)}, r"at least 2 classes", id="one-class"),
        pytest.param({"classes": ("a", "a")}, r"Class names must be unique; repeated: a\.", id="duplicates"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _model(**kwargs)


def test_build_model_loads_the_encoder_of_the_config(tmp_path):
    folder = tiny_encoder_folder(tmp_path / "encoder")
    model = build_model(ModelConfig(encoder=folder, sequence_length=12, pooling="cls"), ["a", "b"], task="text")
    assert isinstance(model, TextClassifier)
    assert model.sequence_length == 12 and model.encoder_name == folder
    assert model.preprocessor(tf.constant(["the cat"]))["token_ids"].shape == (1, 12)


def test_build_model_rejects_an_unknown_task():
    with pytest.raises(ValueError, match=r"Unknown task 'audio'\. Known: image, text"):
        build_model(ModelConfig(), ["a", "b"], task="audio")


def test_frozen_encoder_layers_stay_frozen_through_a_keras_file(tmp_path):
    from tfl.config import Stage
    from tfl.train import apply_stage

    model = _model()
    apply_stage(model, Stage("top 1"))
    path = str(tmp_path / "staged.keras")
    model.save(path)
    loaded = load_model(path)
    assert len(loaded.trainable_weights) == len(model.trainable_weights)
    assert not loaded.backbone.get_layer("transformer_layer_0").trainable
    assert loaded.backbone.get_layer("transformer_layer_1").trainable
