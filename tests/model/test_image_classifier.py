import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.small_backbone import SMALL_BACKBONE
from tfl.backbones import build_backbone
from tfl.backbones import get_backbone_spec
from tfl.config import AugmentationConfig
from tfl.config import ModelConfig
from tfl.config.data_config import RESIZE_MODES
from tfl.data.image.pipeline import decode_resized
from tfl.model import ImageClassifier
from tfl.model import batchnorm_layers
from tfl.model import build_model

SMALL = dict(backbone=SMALL_BACKBONE, weights=None, image_size=32)


def _images(n=3, height=40, width=50, dtype="float32"):
    return np.random.RandomState(0).uniform(0, 255, (n, height, width, 3)).astype(dtype)


def test_keras_round_trip_gives_identical_predictions_and_keeps_class_names(tmp_path):
    model = build_model(ModelConfig(**SMALL), ["cat", "dog", "emu"])
    images = _images()
    expected = model.predict({"images": images}, verbose=0)
    model.save(tmp_path / "model.keras")

    loaded = keras.saving.load_model(tmp_path / "model.keras")  # no custom_objects

    assert isinstance(loaded, ImageClassifier)
    assert loaded.class_names == ["cat", "dog", "emu"]
    assert loaded.backbone_name == SMALL_BACKBONE
    assert loaded.resize == "crop"
    np.testing.assert_array_equal(loaded.predict({"images": images}, verbose=0), expected)


@pytest.fixture(scope="module")
def wide_models():
    """A model per resize mode, 32x48 (a 2:3 aspect ratio)."""
    config = dict(SMALL, image_size=(32, 48))
    return {resize: build_model(ModelConfig(**config, resize=resize), ["a", "b"]) for resize in RESIZE_MODES}


@pytest.mark.parametrize("resize", RESIZE_MODES)
def test_resize_survives_a_keras_round_trip(wide_models, resize, tmp_path):
    model = wide_models[resize]
    images = _images(2, 60, 40)  # taller than 2:3: crop and stretch differ
    expected = model.predict({"images": images}, verbose=0)
    model.save(tmp_path / "model.keras")

    loaded = keras.saving.load_model(tmp_path / "model.keras")

    assert loaded.resize == resize and loaded.get_config()["resize"] == resize
    assert loaded.resizing.crop_to_aspect_ratio == (resize == "crop")
    np.testing.assert_array_equal(loaded.predict({"images": images}, verbose=0), expected)


def test_crop_and_stretch_differ_on_another_aspect_ratio_only(wide_models):
    crop, stretch = wide_models["crop"], wide_models["stretch"]
    other, same = _images(2, 60, 40), _images(2, 64, 96)

    np.testing.assert_array_equal(crop.resizing(same), stretch.resizing(same))
    assert np.abs(crop.resizing(other) - stretch.resizing(other)).max() > 10


def test_a_model_saved_before_resize_existed_keeps_stretching(wide_models):
    config = wide_models["crop"].get_config()
    del config["resize"]

    loaded = ImageClassifier.from_config(config)

    assert loaded.resize == "stretch" and not loaded.resizing.crop_to_aspect_ratio


@pytest.mark.parametrize("resize", RESIZE_MODES)
@pytest.mark.parametrize(
    "height, width, channels",
    [(40, 80, 3), (90, 31, 3), (17, 64, 1), (32, 48, 3), (33, 47, 3), (200, 120, 3)],
    ids=["wide", "tall", "grey", "same_size", "near_ratio", "larger"],
)
def test_the_resizing_layer_and_the_data_pipeline_give_the_same_pixels(wide_models, resize, height, width, channels):
    model = wide_models[resize]
    raw = np.random.default_rng(height).integers(0, 256, (height, width, channels), dtype=np.uint8)
    rgb = np.repeat(raw, 3, axis=-1) if channels == 1 else raw

    decoded = decode_resized(tf.io.encode_png(raw), model.image_size, model.resize).numpy()
    layer = keras.ops.convert_to_numpy(model.resizing(rgb[None].astype("float32")))[0]

    assert decoded.shape == layer.shape == (32, 48, 3)
    np.testing.assert_allclose(decoded, layer, atol=0.5 + 1e-3)  # uint8 rounding only
    again = keras.ops.convert_to_numpy(model.resizing(decoded[None].astype("float32")))[0]
    np.testing.assert_array_equal(again, decoded)  # the layer leaves pipeline images as they are


def test_an_unknown_resize_is_refused_naming_it():
    backbone = build_backbone(SMALL_BACKBONE, weights=None, image_size=32)
    with pytest.raises(ValueError, match=r"Unknown resize 'squash'\. Known: crop .*stretch .*Received: resize='squash'"):
        ImageClassifier(backbone, ["a", "b"], backbone_name=SMALL_BACKBONE, image_size=(32, 32), resize="squash")


def test_accepts_uint8_images_of_any_size():
    model = build_model(ModelConfig(**SMALL), ["a", "b"])
    small = model.predict({"images": _images(2, 20, 90, "uint8")}, verbose=0)
    large = model.predict({"images": _images(2, 300, 120, "uint8")}, verbose=0)
    assert small.shape == large.shape == (2, 2)
    np.testing.assert_allclose(small.sum(axis=1), 1.0, rtol=1e-5)


def test_multi_label_head_gives_independent_sigmoids():
    model = build_model(ModelConfig(**SMALL, multi_label=True), ["a", "b", "c"])
    assert model.head.activation is keras.activations.sigmoid
    probabilities = model.predict({"images": _images()}, verbose=0)
    assert probabilities.shape == (3, 3) and not np.allclose(probabilities.sum(axis=1), 1.0)


def test_augmentation_is_active_in_training_only():
    config = ModelConfig(**SMALL, dropout=0.0, augmentation=AugmentationConfig(flip="horizontal", rotation=0.2, zoom=0.2))
    model = build_model(config, ["a", "b"], seed=3)
    inputs = {"images": _images()}
    np.testing.assert_array_equal(model(inputs, training=False), model(inputs, training=False))
    augmented = model.backbone_input_model()  # inference mode: no augmentation
    assert model.augmenter is not None
    x = model.augmenter(model.resizing(inputs["images"]), training=True)
    assert not np.allclose(x, model.resizing(inputs["images"]))
    assert augmented(inputs).shape == (3, 32, 32, 3)


@pytest.fixture(scope="module")
def augmented_model():
    config = ModelConfig(**SMALL, dropout=0.5, augmentation=AugmentationConfig(flip="horizontal", rotation=0.2, zoom=0.2))
    return build_model(config, ["a", "b"], seed=3)


def test_a_call_without_training_neither_augments_nor_drops_out(augmented_model, tmp_path):
    inputs = {"images": _images()}
    augmented_model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")

    for model in (augmented_model, loaded):
        expected = model.predict(inputs, verbose=0)
        np.testing.assert_allclose(model(inputs), expected, rtol=1e-5, atol=1e-6)
        features = model.feature_model()
        np.testing.assert_array_equal(features(inputs), features(inputs, training=False))
        preprocessed = model.preprocessor(model.resizing(inputs["images"]))
        np.testing.assert_array_equal(model.backbone_input_model()(inputs), preprocessed)
    assert not np.allclose(augmented_model(inputs, training=True), augmented_model(inputs, training=False))


def test_every_batchnorm_is_frozen_after_build():
    model = build_model(ModelConfig(**SMALL), ["a", "b"])
    layers = batchnorm_layers(model)
    assert layers and not any(layer.trainable for layer in layers)


@pytest.mark.parametrize(
    "class_names, message",
    [
        pytest.param(["only"], "at least 2 classes", id="one-class"),
        pytest.param(["a", "a"], "unique", id="duplicate"),
    ],
)
def test_bad_class_names_are_refused(class_names, message):
    with pytest.raises(ValueError, match=message):
        build_model(ModelConfig(**SMALL), class_names)


def test_feature_model_outputs_the_pooled_backbone_features():
    model = build_model(ModelConfig(**SMALL), ["a", "b"])
    assert model.feature_model()({"images": _images()}).shape == (3, get_backbone_spec(SMALL_BACKBONE).feature_dim)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_computes_in_16_bits_and_keeps_float32_weights_and_outputs(policy):
    model = build_model(ModelConfig(**SMALL, mixed_precision=policy), ["a", "b"])

    outputs = model({"images": _images()})

    conv = next(layer for layer in model.backbone.layers if isinstance(layer, keras.layers.Conv2D))
    assert conv.compute_dtype == policy.split("_")[1] and conv.variable_dtype == "float32"
    assert outputs.dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored


def test_build_model_reads_a_dict_as_a_config_files_model_section():
    raw = dict(SMALL, augmentation={"flip": "horizontal", "rotation": 0.1})

    model = build_model(raw, ["a", "b"], seed=1)

    expected = ModelConfig(**SMALL, augmentation=AugmentationConfig(flip="horizontal", rotation=0.1))
    assert model.augmentation == build_model(expected, ["a", "b"], seed=1).augmentation
    assert [type(layer).__name__ for layer in model.augmenter.layers] == ["RandomFlip", "RandomRotation"]


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"augmentaton": {"flip": "horizontal"}}, "Unknown config key 'model.augmentaton'. Did you mean 'augmentation'"),
        ({"augmentation": {"rotation": 2}}, "model.augmentation: rotation is a fraction in \\[0, 1\\)"),
        ({"fusion": {"mode": "blend"}}, "Unknown fusion mode 'blend'"),
    ],
    ids=["misspelt_key", "bad_nested_value", "bad_fusion_mode"],
)
def test_build_model_refuses_a_bad_dict_naming_the_key(raw, message):
    with pytest.raises(ValueError, match=message):
        build_model(dict(SMALL, **raw), ["a", "b"])
