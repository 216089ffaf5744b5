import json
import socket
import time

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from tests.text_fakes import VOCABULARY
from tests.text_fakes import tiny_encoder
from tfl.backbones.encoders import MINILM
from tfl.backbones.encoders import EncoderUnavailableError
from tfl.backbones.encoders import build_encoder
from tfl.backbones.encoders import build_text_preprocessor
from tfl.backbones.encoders import encoder_presets
from tfl.backbones.encoders import encoder_stage_names
from tfl.backbones.encoders import encoder_stages
from tfl.backbones.encoders import list_encoders
from tfl.backbones.encoders import resolve_encoder
from tfl.model import MaskedMeanPooling

_SIZES = dict(vocabulary_size=40, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16, max_sequence_length=32)


def test_bert_stages_are_embeddings_each_layer_and_pooler():
    encoder, _ = tiny_encoder(num_layers=3)
    stages = encoder_stages(encoder)
    assert list(stages) == ["embeddings", "layer_0", "layer_1", "layer_2", "pooler"]
    assert [layer.name for layer in stages["layer_1"]] == ["transformer_layer_1"]
    assert [layer.name for layer in stages["pooler"]] == ["pooled_dense"]
    assert "token_embedding" in [layer.name for layer in stages["embeddings"]]


def test_stages_cover_every_layer_with_weights_exactly_once_in_order():
    encoder, _ = tiny_encoder()
    staged = [layer for layers in encoder_stages(encoder).values() for layer in layers]
    assert len(staged) == len({id(layer) for layer in staged})
    with_weights = [layer for layer in encoder.layers if layer.weights]
    assert [layer for layer in staged if layer.weights] == with_weights


@pytest.mark.parametrize(
    "backbone_class, extra, expected",
    [
        pytest.param(keras_hub.models.DistilBertBackbone, {}, ["embeddings", "layer_0", "layer_1"], id="distil_bert"),
        pytest.param(keras_hub.models.RobertaBackbone, {}, ["embeddings", "layer_0", "layer_1"], id="roberta"),
        pytest.param(keras_hub.models.DebertaV3Backbone, {}, ["embeddings", "layer_0", "layer_1"], id="deberta_v3"),
        pytest.param(
            keras_hub.models.AlbertBackbone,
            dict(embedding_dim=8, num_groups=1, num_inner_repetitions=1),
            ["embeddings", "group_0", "pooler"],
            id="albert-shared-layers",
        ),
    ],
)
def test_other_bert_family_stages(backbone_class, extra, expected):
    encoder = backbone_class(**_SIZES, **extra)
    assert encoder_stage_names(encoder) == expected


def test_presets_are_bert_family_with_a_classifier_preprocessor():
    presets = encoder_presets()
    for name in ("bert_tiny_en_uncased", "bert_base_en_uncased", "bert_base_multi", "bert_large_en",
                 "distil_bert_base_en_uncased", "roberta_base_en", "albert_base_en_uncased", "deberta_v3_base_en"):
        assert name in presets
    assert not any(name.startswith("electra") for name in presets)
    assert list_encoders()[0]["name"] == MINILM


def test_unknown_name_suggests_the_close_preset():
    with pytest.raises(ValueError, match=r"Unknown encoder 'bert_base_en_uncassed'.*Did you mean 'bert_base_en_uncased'"):
        resolve_encoder("bert_base_en_uncassed")


@pytest.mark.parametrize(
    "files, message",
    [
        pytest.param({}, r"has no config\.json", id="empty-folder"),
        pytest.param({"config.json": "{not json"}, r"is not valid JSON", id="bad-json"),
        pytest.param({"config.json": json.dumps({"model_type": "bert"})}, r"has no model\.safetensors", id="hf-without-weights"),
        pytest.param({"config.json": json.dumps({"hidden": 3})}, r"neither a KerasHub preset config", id="unknown-config"),
    ],
)
def test_a_folder_that_is_not_a_checkpoint_is_named(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(EncoderUnavailableError, match=message):
        resolve_encoder(str(tmp_path))


def test_preset_name_offline_fails_fast_naming_local_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))

    def no_network(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    start = time.perf_counter()
    with pytest.raises(EncoderUnavailableError) as error:
        build_encoder("bert_tiny_en_uncased", sequence_length=32)
    assert time.perf_counter() - start < 30
    message = str(error.value)
    assert "'bert_tiny_en_uncased'" in message
    assert "KerasHub preset folder" in message and "Hugging Face checkpoint folder" in message
    assert MINILM in message


def test_saved_preset_folder_loads_with_identical_outputs(tmp_path):
    encoder, preprocessor = tiny_encoder()
    folder = str(tmp_path / "tiny")
    from tfl.backbones.encoders import save_encoder

    save_encoder(encoder, preprocessor, folder)
    assert resolve_encoder(folder) == (folder, "keras_hub")
    loaded, loaded_preprocessor = build_encoder(folder, sequence_length=10)
    assert loaded_preprocessor.sequence_length == 10
    tokens = loaded_preprocessor(tf.constant(["the cat sat on the mat", "a dog"]))
    words = ["[CLS]", "the", "cat", "sat", "on", "the", "mat", "[SEP]"]
    np.testing.assert_array_equal(tokens["token_ids"][0, :8], [VOCABULARY.index(w) for w in words])
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(tokens)["sequence_output"]),
        keras.ops.convert_to_numpy(encoder(tokens)["sequence_output"]),
    )


def test_preprocessor_honours_sequence_length_for_a_hugging_face_folder(tmp_path):
    preprocessor = build_text_preprocessor(MINILM, sequence_length=12)
    tokens = preprocessor(tf.constant(["hello world " * 20]))
    assert tokens["token_ids"].shape == (1, 12)
    assert int(tokens["token_ids"][0, -1]) == 102  # [SEP] after truncation


def _sentence_embeddings(encoder, preprocessor, sentences):
    tokens = preprocessor(tf.constant(sentences))
    sequence = encoder(tokens)["sequence_output"]
    pooled = keras.ops.convert_to_numpy(MaskedMeanPooling()(sequence, tokens["padding_mask"]))
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


@pytest.mark.slow
def test_minilm_loads_with_its_pretrained_weights():
    """The real all-MiniLM-L6-v2: known token ids, and paraphrases far closer than unrelated text."""
    encoder, preprocessor = build_encoder(MINILM, sequence_length=32)
    assert encoder_stage_names(encoder) == ["embeddings"] + [f"layer_{i}" for i in range(6)] + ["pooler"]
    ids = preprocessor(tf.constant(["Hello world"]))["token_ids"][0, :4]
    np.testing.assert_array_equal(ids, [101, 7592, 2088, 102])
    a, paraphrase, unrelated, other = _sentence_embeddings(
        encoder,
        preprocessor,
        [
            "A man is playing a guitar.",
            "Someone is strumming a guitar.",
            "The stock market fell sharply today.",
            "Interest rates were raised by the central bank.",
        ],
    )
    assert a @ paraphrase > 0.6
    assert a @ unrelated < 0.2
    assert a @ paraphrase - a @ unrelated > 0.5
    assert unrelated @ other > a @ unrelated  # two finance sentences are closer than guitar and finance


def test_vocabulary_of_the_fakes_matches_their_token_ids():
    _, preprocessor = tiny_encoder()
    ids = preprocessor(tf.constant(["the cat"]))["token_ids"][0, :4].numpy()
    assert [VOCABULARY[i] for i in ids] == ["[CLS]", "the", "cat", "[SEP]"]
