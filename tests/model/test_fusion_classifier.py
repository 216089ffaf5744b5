"""Multi-branch models: build, per-branch staged unfreezing, one fit stage, `.keras` round trips."""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.small_backbone import SMALL_BACKBONE
from tests.text_fakes import tiny_encoder
from tfl.config import Stage
from tfl.model import BranchBackbones
from tfl.model import Fusion
from tfl.model import FusionClassifier
from tfl.model import batchnorm_layers
from tfl.model import build_fusion_model
from tfl.model import cnn_branch
from tfl.model import small_cnn
from tfl.model import text_branch
from tfl.train import apply_stage
from tfl.train import fit_stages

CLASSES = ["dark", "bright"]
TEXTS = ["a good movie", "great fun", "very good film", "a bad movie", "awful film", "very boring"]


def _images(n=6, size=32, seed=0):
    rng = np.random.RandomState(seed)
    labels = np.arange(n) % 2
    images = rng.uniform(0, 120, (n, size, size, 3)) + labels[:, None, None, None] * 120
    return images.astype("float32"), labels.astype("int32")


def _data(inputs, labels, batch_size=3):
    """An `ImageData`-shaped object; no validation set keeps a fit short."""
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels))
    return types.SimpleNamespace(
        train=dataset.shuffle(len(labels), seed=0).batch(batch_size), validation=None, num_train=len(labels)
    )


def _image_data():
    images, labels = _images()
    return _data({"images": images}, labels)


def _text_image_data(preprocessor):
    images, labels = _images(len(TEXTS))
    tokens = {k: v for k, v in preprocessor(tf.constant(TEXTS)).items()}
    return _data({"images": images, **tokens}, labels)


def _two_cnns(source_frozen=False, fusion="weighted", **kwargs):
    return FusionClassifier(
        [
            cnn_branch("source", small_cnn(32, (4, 8), name="source_cnn"), 32, frozen=source_frozen),
            cnn_branch("target", small_cnn(16, (4, 8), name="target_cnn"), 16),
        ],
        CLASSES,
        fusion=fusion,
        dropout=0.0,
        **kwargs,
    )


def _snapshot(layers):
    return [keras.ops.convert_to_numpy(w).copy() for layer in layers for w in layer.weights]


def _identical(before, layers):
    return all(np.array_equal(b, keras.ops.convert_to_numpy(a)) for b, a in zip(before, _weights(layers), strict=True))


def _weights(layers):
    return [w for layer in layers for w in layer.weights]


def _changed(before, layers):
    return not _identical(before, layers)


def _assert_round_trip(model, inputs, tmp_path):
    expected = model.predict(inputs, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")  # no custom_objects
    assert isinstance(loaded, FusionClassifier)
    assert loaded.class_names == model.class_names and loaded.branch_names == model.branch_names
    assert list(loaded.stage_layers()) == list(model.stage_layers())
    assert len(loaded.trainable_weights) == len(model.trainable_weights)
    np.testing.assert_array_equal(loaded.predict(inputs, verbose=0), expected)
    return loaded


def test_stage_names_are_prefixed_with_the_branch():
    model = _two_cnns()
    assert list(model.stage_layers()) == ["source/block1", "source/block2", "target/block1", "target/block2"]
    assert isinstance(model.backbone, BranchBackbones)
    assert model.backbone.names() == ["source", "target"]
    assert model.num_classes == 2 and not model.multi_label


@pytest.mark.parametrize("resize", ["crop", "stretch"])
def test_every_image_branch_resizes_by_the_models_resize_and_keeps_it_in_its_file(resize, tmp_path):
    model = _two_cnns(resize=resize)
    assert model.resize == resize
    assert [layer.crop_to_aspect_ratio for layer in model.resizers.values()] == [resize == "crop"] * 2

    loaded = _assert_round_trip(model, {"images": _images(2, size=48)[0][:, :, :30]}, tmp_path)

    assert loaded.resize == resize
    assert [layer.crop_to_aspect_ratio for layer in loaded.resizers.values()] == [resize == "crop"] * 2


def test_a_fusion_model_saved_before_resize_existed_keeps_stretching():
    config = _two_cnns().get_config()
    del config["resize"]
    assert FusionClassifier.from_config(config).resize == "stretch"


def test_an_unknown_resize_is_refused_by_the_fusion_model():
    with pytest.raises(ValueError, match=r"Unknown resize 'fit'\. Known: crop .*Received: resize='fit'"):
        _two_cnns(resize="fit")


def test_a_frozen_branch_has_no_stages():
    model = _two_cnns(source_frozen=True)
    assert list(model.stage_layers()) == ["target/block1", "target/block2"]


def test_head_layers_hold_the_poolings_the_fusion_and_the_head():
    model = _two_cnns()
    head = model.head_layers()
    assert model.fusion in head and model.head in head
    assert isinstance(model.fusion, Fusion)


def test_feature_models_give_the_fused_and_the_branch_features():
    model = _two_cnns(fusion={"mode": "concat", "projection_dim": 5})
    images, _ = _images(3, size=40)
    assert model.feature_model()({"images": images}).shape == (3, 5)
    branches = model.branch_feature_model()({"images": images})
    assert {k: tuple(v.shape) for k, v in branches.items()} == {"source": (3, 8), "target": (3, 8)}


@pytest.mark.parametrize(
    "frozen, unfreeze, trained, unchanged",
    [
        pytest.param(
            False,
            "target/block1+target/block2",
            ["target/block1", "target/block2"],
            ["source/block1", "source/block2"],
            id="target-only",
        ),
        pytest.param(
            False,
            "source/block2",
            ["source/block2"],
            ["source/block1", "target/block1", "target/block2"],
            id="one-source-stage",
        ),
        pytest.param(
            True, "all", ["target/block1", "target/block2"], ["source/block1", "source/block2"], id="frozen-branch-all"
        ),
        pytest.param(
            False, "none", [], ["source/block1", "source/block2", "target/block1", "target/block2"], id="head-only"
        ),
    ],
)
def test_only_the_named_branch_stages_change(frozen, unfreeze, trained, unchanged):
    model = _two_cnns(source_frozen=frozen)
    layers = {
        f"{b}/{s}": model.backbones[b].get_layer(f"{s}_conv")
        for b in ("source", "target")
        for s in ("block1", "block2")
    }
    before = {name: _snapshot([layer]) for name, layer in layers.items()}
    fusion_before = _snapshot([model.fusion, model.head])
    fit_stages(model, _image_data(), [Stage(unfreeze, epochs=1, learning_rate=1e-2)], verbose=0)
    for name in trained:
        assert _changed(before[name], [layers[name]]), f"{name} should have trained"
    for name in unchanged:
        assert _identical(before[name], [layers[name]]), f"{name} should be bit-identical"
    assert _changed(fusion_before, [model.fusion, model.head])


def test_the_mixing_weight_trains():
    model = _two_cnns(fusion={"mode": "weighted", "learnable": True, "alpha": 0.5})
    fit_stages(model, _image_data(), [Stage("none", epochs=1, learning_rate=5e-2)], verbose=0)
    alpha = model.fusion.mixing_weights()[0]
    assert alpha != 0.5 and 0 < alpha < 1


@pytest.mark.slow
def test_source_target_pair_trains_the_target_and_round_trips(tmp_path):
    model = build_fusion_model(
        [
            {"name": "source", "backbone": SMALL_BACKBONE, "weights": None, "image_size": 32, "frozen": True},
            {"name": "target", "backbone": "small_cnn", "image_size": 32, "filters": [4, 8]},
        ],
        CLASSES,
        fusion={"mode": "gated"},
    )
    assert list(model.stage_layers()) == ["target/block1", "target/block2"]
    source = model.backbones["source"]
    source_before = _snapshot(source.layers)  # moving statistics included
    target_before = _snapshot(model.backbones["target"].layers)
    fit_stages(model, _image_data(), [Stage("all", epochs=1, learning_rate=1e-2)], verbose=0)
    assert _identical(source_before, source.layers)
    assert _changed(target_before, model.backbones["target"].layers)
    loaded = _assert_round_trip(model, {"images": _images(2, size=48)[0]}, tmp_path)
    assert not any(layer.trainable for layer in batchnorm_layers(loaded.backbones["source"]))


@pytest.mark.slow
def test_two_pretrained_backbones_with_their_own_preprocessing(tmp_path):
    model = build_fusion_model(
        [
            {"name": "small", "backbone": SMALL_BACKBONE, "weights": None, "image_size": 32},
            {"name": "mobile", "backbone": "mobilenet", "weights": None, "image_size": 32},
        ],
        CLASSES,
        fusion={"mode": "weighted", "learnable": True, "per_channel": True},
    )
    assert model.preprocessors["small"].mode == "none" and model.preprocessors["mobile"].mode == "tf"
    assert model.fusion.mixing_weights().shape == (2, 1024)  # 576 projected to 1024
    # Random backbones emit features near 1e-20 unless BatchNorm normalises with batch statistics
    # (see TRAPS.md): train it, which also recomputes its statistics per branch after the stage.
    stage = Stage("small/stride32+mobile/stride32", epochs=1, learning_rate=1e-2, train_batchnorm=True)
    plan = apply_stage(model, stage)
    assert plan.trainable_stages == ("small/stride32", "mobile/stride32")
    small_stem = _snapshot(model.stage_layers()["small/stem"])
    mobile_top = _snapshot(model.stage_layers()["mobile/stride32"])
    fit_stages(model, _image_data(), [stage], verbose=0)
    assert _identical(small_stem, model.stage_layers()["small/stem"])
    assert _changed(mobile_top, model.stage_layers()["mobile/stride32"])
    _assert_round_trip(model, {"images": _images(2)[0]}, tmp_path)


@pytest.mark.slow
def test_image_and_text_branches_train_and_round_trip(tmp_path):
    encoder, preprocessor = tiny_encoder(sequence_length=8, hidden_dim=8)
    # The image branch is a small CNN: registered image backbones are covered above, and
    # a branch is a branch to the fusion layer; this keeps the test short.
    model = FusionClassifier(
        [
            cnn_branch("image", small_cnn(32, (4, 8)), 32, frozen=True),
            text_branch("text", encoder, "tiny", preprocessor=preprocessor),
        ],
        CLASSES,
        fusion={"mode": "concat", "projection_dim": 8},
    )
    assert sorted(model.input) == ["images", "padding_mask", "segment_ids", "token_ids"]
    assert list(model.stage_layers()) == ["text/embeddings", "text/layer_0", "text/layer_1"]
    data = _text_image_data(preprocessor)
    stages = model.stage_layers()
    embeddings = _snapshot(stages["text/embeddings"])
    top = _snapshot(stages["text/layer_1"])
    fit_stages(model, data, [Stage("text/layer_1", epochs=1, learning_rate=1e-2)], verbose=0)
    assert _identical(embeddings, stages["text/embeddings"])
    assert _changed(top, stages["text/layer_1"])
    inputs = {"images": _images(2)[0], **{k: v for k, v in preprocessor(tf.constant(TEXTS[:2])).items()}}
    loaded = _assert_round_trip(model, inputs, tmp_path)
    assert loaded.text_preprocessor is not None
    assert not loaded.backbones["text"].get_layer("embeddings_layer_norm").trainable


@pytest.mark.parametrize(
    "branches, message",
    [
        pytest.param(
            lambda: [cnn_branch("only", small_cnn(16, (4,)), 16)], r"at least 2 branches.*Received: 1", id="one-branch"
        ),
        pytest.param(
            lambda: [
                cnn_branch("a", small_cnn(16, (4,), name="x"), 16),
                cnn_branch("a", small_cnn(16, (4,), name="y"), 16),
            ],
            r"Branch names must be unique; repeated: a",
            id="duplicate-names",
        ),
        pytest.param(
            lambda: [
                cnn_branch("a/b", small_cnn(16, (4,), name="x"), 16),
                cnn_branch("c", small_cnn(16, (4,), name="y"), 16),
            ],
            r"lowercase letters, digits and '_'.*name='a/b'",
            id="slash-in-name",
        ),
        pytest.param(
            lambda: [cnn_branch("a", small_cnn(16, (4,)), 16), cnn_branch("b", small_cnn(16, (4,)), 16)],
            r"distinct model names.*backbone.name = ",
            id="same-backbone-name",
        ),
        pytest.param(
            lambda: [{"name": "a", "kind": "audio"}, cnn_branch("b", small_cnn(16, (4,)), 16)],
            r"Unknown branch kind 'audio'\. Known: image, cnn, text",
            id="unknown-kind",
        ),
        pytest.param(
            lambda: [
                dict(cnn_branch("a", small_cnn(16, (4,), name="x"), 16), filters=4),
                cnn_branch("b", small_cnn(16, (4,)), 16),
            ],
            r"Unknown key 'filters' in cnn branch 'a'",
            id="unknown-key",
        ),
    ],
)
def test_bad_branches_are_refused(branches, message):
    with pytest.raises(ValueError, match=message):
        FusionClassifier(branches(), CLASSES)


@pytest.mark.parametrize(
    "branch, message",
    [
        pytest.param({"name": "a", "weights": None}, r"needs a 'backbone'.*or an 'encoder'", id="no-backbone"),
        pytest.param(
            {"name": "a", "backbone": "small_cnn", "weights": None},
            r"Unknown key 'weights' in cnn branch 'a'",
            id="cnn-weights",
        ),
        pytest.param({"name": "a", "backbone": "resnet5"}, r"Unknown backbone 'resnet5'", id="unknown-backbone"),
    ],
)
def test_build_fusion_model_refuses_bad_branches(branch, message):
    with pytest.raises(ValueError, match=message):
        build_fusion_model([branch, {"name": "b", "backbone": "small_cnn", "image_size": 16}], CLASSES)


def test_build_fusion_model_names_each_backbone_after_its_branch():
    model = build_fusion_model(
        [
            {"name": "source", "backbone": "small_cnn", "image_size": 16, "filters": [4], "frozen": True},
            {"name": "target", "backbone": "small_cnn", "image_size": 16, "filters": [4, 8]},
        ],
        CLASSES,
        fusion="gated",
    )
    assert [model.backbones[name].name for name in model.branch_names] == ["source_small_cnn", "target_small_cnn"]
    assert list(model.stage_layers()) == ["target/block1", "target/block2"]
    assert model.predict({"images": _images(2, size=20)[0]}, verbose=0).shape == (2, 2)


@pytest.mark.parametrize("freeze_source, prefixes", [(True, {"target"}), (False, {"source", "target"})])
def test_build_model_with_a_fusion_config_pairs_the_backbone_with_a_target_branch(freeze_source, prefixes):
    from tfl.config import FusionConfig
    from tfl.config import ModelConfig
    from tfl.model import build_model

    fusion = FusionConfig(mode="weighted", alpha=0.8, learnable=False, freeze_source=freeze_source)
    model = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, fusion=fusion), ["a", "b"])

    assert isinstance(model, FusionClassifier) and model.branch_names == ["source", "target"]
    assert {name.split("/")[0] for name in model.stage_layers()} == prefixes
    np.testing.assert_allclose([float(np.mean(w)) for w in model.fusion.mixing_weights()], [0.8, 0.2], atol=1e-6)
    assert model.predict({"images": np.zeros((2, 40, 40, 3), "float32")}, verbose=0).shape == (2, 2)
    assert model.resize == "crop"


def test_build_model_with_a_fusion_config_passes_resize_on():
    from tfl.config import FusionConfig
    from tfl.config import ModelConfig
    from tfl.model import build_model

    config = ModelConfig(
        backbone=SMALL_BACKBONE, weights=None, image_size=32, resize="stretch", fusion=FusionConfig(mode="concat")
    )
    model = build_model(config, ["a", "b"])
    assert model.resize == "stretch" and not any(layer.crop_to_aspect_ratio for layer in model.resizers.values())


def test_fusion_weight_logger_writes_the_learned_weights_into_the_history():
    from tfl.train import FusionWeightLogger

    model = _two_cnns(source_frozen=True, fusion={"mode": "weighted", "learnable": True})
    logger = FusionWeightLogger(model.fusion, model.branch_names)
    history = fit_stages(model, _image_data(), [Stage("none", epochs=2, learning_rate=5e-2)], callbacks=[logger], verbose=0)
    logged = history.stages[0].history
    assert len(logged["fusion_weight_source"]) == 2
    source, target = (float(np.mean(w)) for w in model.fusion.mixing_weights())
    assert (logged["fusion_weight_source"][-1], logged["fusion_weight_target"][-1]) == pytest.approx((source, target))
    assert logged["fusion_weight_source"][0] != pytest.approx(0.5)  # it trained


def test_fusion_weight_logger_refuses_other_modes():
    from tfl.train import FusionWeightLogger

    with pytest.raises(ValueError, match="mode='gated'"):
        FusionWeightLogger(Fusion("gated"), ["a", "b"])
