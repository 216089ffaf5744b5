"""Staged unfreezing of a text encoder: the frozen parts provably do not change."""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.text_fakes import tiny_encoder
from tfl.config import Stage
from tfl.model import TextClassifier
from tfl.train import apply_stage
from tfl.train import default_stages
from tfl.train import fit_stages

POSITIVE = ["a good movie", "great fun", "very good film", "the acting was great", "really fun plot"]
NEGATIVE = ["a bad movie", "awful film", "very boring", "the plot was bad", "not fun really"]


def _data(preprocessor):
    texts = POSITIVE + NEGATIVE
    labels = np.array([1] * len(POSITIVE) + [0] * len(NEGATIVE), "int32")
    tokens = preprocessor(tf.constant(texts))
    dataset = tf.data.Dataset.from_tensor_slices((dict(tokens), labels))
    return types.SimpleNamespace(
        train=dataset.shuffle(10, seed=0).batch(4), validation=dataset.batch(4), num_train=len(texts)
    )


def _model(pooling):
    encoder, preprocessor = tiny_encoder()
    return TextClassifier(encoder, preprocessor, ["bad", "good"], encoder_name="tiny", pooling=pooling)


def _weights(layers):
    return [keras.ops.convert_to_numpy(w).copy() for layer in layers for w in layer.weights]


def _changed(before, layers):
    after = _weights(layers)
    return any(not np.array_equal(b, a) for b, a in zip(before, after))


@pytest.mark.parametrize(
    "pooling, unfreeze, trained, frozen",
    [
        pytest.param("mean", "top 1", ["layer_1"], ["embeddings", "layer_0"], id="mean-top-1"),
        pytest.param("cls", "top 2", ["layer_1", "pooler"], ["embeddings", "layer_0"], id="cls-top-2-includes-pooler"),
        pytest.param("mean", "embeddings+layer_1", ["embeddings", "layer_1"], ["layer_0"], id="named-stages"),
        pytest.param("lstm", "none", [], ["embeddings", "layer_0", "layer_1"], id="head-only"),
    ],
)
def test_only_the_unfrozen_stages_change(pooling, unfreeze, trained, frozen):
    model = _model(pooling)
    data = _data(model.preprocessor)
    stages = model.stage_layers()
    pooled_dense = model.backbone.get_layer("pooled_dense")
    before = {name: _weights(layers) for name, layers in stages.items()}
    pooler_before = _weights([pooled_dense])
    head_before = _weights([model.head])
    fit_stages(model, data, [Stage(unfreeze, epochs=2, learning_rate=1e-2)], verbose=0)
    for name in trained:
        assert _changed(before[name], stages[name]), f"{name} should have trained"
    for name in frozen:
        assert not _changed(before[name], stages[name]), f"{name} should be bit-identical"
    if pooling != "cls":  # outside every stage: never trained, whatever `unfreeze` says
        assert not _changed(pooler_before, [pooled_dense])
    assert _changed(head_before, [model.head])


def test_the_plan_counts_only_what_trains():
    model = _model("mean")
    plan = apply_stage(model, Stage("top 1"))
    expected = sum(int(np.prod(w.shape)) for w in model.backbone.get_layer("transformer_layer_1").weights)
    expected += sum(int(np.prod(w.shape)) for w in model.head.weights)
    assert plan.trainable_stages == ("layer_1",)
    assert plan.trainable_params == expected


def test_default_text_plan_trains_the_head_then_the_whole_encoder_gently():
    head, whole = default_stages(epochs=3, task="text")
    assert (head.unfreeze, head.learning_rate) == ("none", 1e-3)
    assert (whole.unfreeze, whole.epochs, whole.optimizer) == ("all", 3, "adamw")
    assert whole.learning_rate <= 1e-4


def test_discriminative_rates_scale_lower_layers_down():
    model = _model("mean")
    plan = apply_stage(model, Stage("top 2", lr_decay=0.5))
    layer_0 = model.backbone.get_layer("transformer_layer_0").trainable_weights[0].path
    layer_1 = model.backbone.get_layer("transformer_layer_1").trainable_weights[0].path
    assert plan.lr_multipliers[layer_1] == 0.5
    assert plan.lr_multipliers[layer_0] == 0.25
