import keras
import numpy as np
import pytest

from tfl.config import AugmentationConfig
from tfl.config import ModelConfig
from tfl.model import ImageClassifier
from tfl.model import batchnorm_layers
from tfl.model import build_model

SMALL = dict(backbone="mobilenet_v3_small", weights=None, image_size=32)


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
    assert loaded.backbone_name == "mobilenet_v3_small"
    np.testing.assert_array_equal(loaded.predict({"images": images}, verbose=0), expected)


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
    assert model.feature_model()({"images": _images()}).shape == (3, 576)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_computes_in_16_bits_and_keeps_float32_weights_and_outputs(policy):
    model = build_model(ModelConfig(**SMALL, mixed_precision=policy), ["a", "b"])

    outputs = model({"images": _images()})

    conv = next(layer for layer in model.backbone.layers if isinstance(layer, keras.layers.Conv2D))
    assert conv.compute_dtype == policy.split("_")[1] and conv.variable_dtype == "float32"
    assert outputs.dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
