"""Token attributions: word pieces merged into words, integrated gradients' completeness, the encoder split."""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import tfl
from tests.text_fakes import tiny_encoder
from tfl.attribution import TokenAttributor
from tfl.attribution import merge_word_pieces
from tfl.backbones.encoders import token_embedding_split

SPECIAL = ["[CLS]", "[SEP]", "[PAD]"]


def test_word_pieces_merge_into_words_and_special_tokens_are_dropped():
    tokens = ["[CLS]", "un", "##bel", "##ie", "##va", "##bly", "good", ",", "truly", "[SEP]", "[PAD]", "[PAD]"]
    values = [9.0, 0.1, 0.2, 0.3, 0.4, 0.5, 2.0, -0.5, 1.0, 9.0, 9.0, 9.0]
    words, scores, spans = merge_word_pieces(tokens, values, SPECIAL)
    assert words == ["unbelievably", "good", ",", "truly"]
    np.testing.assert_allclose(scores, [1.5, 2.0, -0.5, 1.0])
    assert spans == [[1, 2, 3, 4, 5], [6], [7], [8]]


def test_a_continuation_piece_after_a_special_token_starts_a_word():
    words, _, spans = merge_word_pieces(["[CLS]", "##ing", "on", "[SEP]", "##s"], [1, 2, 3, 4, 5], SPECIAL)
    assert words == ["##ing", "on", "##s"] and spans == [[1], [2], [4]]


def test_sentencepiece_pieces_merge_at_the_word_start_marker():
    tokens = ["[CLS]", "▁un", "believ", "ably", "▁good", "[SEP]"]
    words, scores, _ = merge_word_pieces(tokens, [0, 1, 1, 1, 2, 0], SPECIAL)
    assert words == ["unbelievably", "good"] and scores == [3.0, 2.0]


@pytest.fixture(scope="module")
def tiny_classifier():
    keras.utils.set_random_seed(0)
    encoder, preprocessor = tiny_encoder(hidden_dim=16)
    model = tfl.TextClassifier(encoder, preprocessor, ["neg", "pos"], encoder_name="tiny")
    model.head.kernel.assign(model.head.kernel * 20.0)  # scores far from 0, so completeness is not trivial
    return model


def test_integrated_gradients_add_up_to_the_score_change_and_skip_special_tokens(tiny_classifier):
    model = tiny_classifier
    inputs = model.preprocessor(tf.constant(["the cat sat on the mat", "a very good movie", "boring"]))
    result = TokenAttributor(model, steps=32)(inputs, [1, 1, 0])
    change = result["score_change"]
    assert np.abs(change).min() > 0.05
    np.testing.assert_allclose(result["attributions"].sum(axis=1), change, rtol=0.01, atol=1e-4)
    mask = np.asarray(inputs["padding_mask"])
    special = np.isin(np.asarray(inputs["token_ids"]), model.preprocessor.tokenizer.special_token_ids)
    assert np.all(result["attributions"][special | ~mask] == 0.0)
    assert result["classes"].tolist() == [1, 1, 0]


def test_gradient_x_input_is_the_gradient_at_the_input_times_input_minus_baseline(tiny_classifier):
    model = tiny_classifier
    inputs = model.preprocessor(tf.constant(["a good movie"]))
    attributor = TokenAttributor(model, method="gradient_x_input")
    ids = tf.cast(inputs["token_ids"], tf.int32)
    special = np.isin(ids.numpy(), model.preprocessor.tokenizer.special_token_ids) | ~np.asarray(inputs["padding_mask"])
    embedded = attributor.embed(ids)
    baseline = attributor.embed(tf.where(special, ids, model.preprocessor.tokenizer.pad_token_id))
    with tf.GradientTape() as tape:
        tape.watch(embedded)
        score = attributor.scores(embedded, {k: tf.cast(v, tf.int32) for k, v in inputs.items()})[:, 1]
    expected = tf.reduce_sum(tape.gradient(score, embedded) * (embedded - baseline), axis=-1).numpy()
    expected[special] = 0.0
    np.testing.assert_allclose(attributor(inputs, [1])["attributions"], expected, rtol=1e-4, atol=1e-6)


def test_explain_returns_words_aligned_with_their_attributions(tiny_classifier):
    explanations = tfl.explain(  # one text a batch: batches of other lengths
        tiny_classifier, ["the cat sat", "a very good movie"], class_name="pos", steps=8, batch_size=1
    )
    assert explanations.words == [["the", "cat", "sat"], ["a", "very", "good", "movie"]]
    assert [len(a) for a in explanations.attributions] == [3, 4]
    assert explanations.explained == ["pos", "pos"] and explanations.method == "integrated_gradients"
    probabilities = tiny_classifier.predict(tiny_classifier.preprocessor(tf.constant(["the cat sat"])), verbose=0)
    assert explanations.probabilities[0] == pytest.approx(probabilities[0, 1], rel=1e-4)


@pytest.mark.parametrize(
    "family",
    [
        lambda: tiny_encoder(hidden_dim=16)[0],
        lambda: keras_hub.models.DistilBertBackbone(
            vocabulary_size=30, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16, max_sequence_length=16
        ),
    ],
    ids=["bert", "distil_bert"],
)
def test_the_split_encoder_gives_the_encoders_own_outputs(family):
    encoder = family()
    ids = np.array([[2, 7, 8, 9, 3, 0, 0]])
    inputs = {"token_ids": ids, "padding_mask": ids > 0}
    if "segment_ids" in encoder.input:
        inputs["segment_ids"] = np.zeros_like(ids)
    embed, forward = token_embedding_split(encoder)
    expected, outputs = encoder(inputs), forward(embed(ids), inputs)
    if isinstance(expected, dict):  # BERT: sequence and pooled outputs; DistilBERT: the sequence
        expected, outputs = expected["sequence_output"], outputs["sequence_output"]
    np.testing.assert_allclose(outputs, expected, atol=1e-5)
