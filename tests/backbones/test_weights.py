import os
import socket

import keras
import numpy as np
import pytest

from tfl.backbones import WeightsUnavailableError
from tfl.backbones import build_backbone
from tfl.backbones import save_backbone
from tfl.model import build_model


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network and an empty Keras cache, whatever machine the test runs on."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))

    def no_network(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(keras.src.backend.config, "_KERAS_DIR", str(tmp_path / "keras_home"))
    return tmp_path / "keras_home" / "models"


@pytest.fixture
def stalled_network(monkeypatch, tmp_path):
    """A network that accepts nothing: connections time out."""
    monkeypatch.setattr(keras.src.backend.config, "_KERAS_DIR", str(tmp_path / "keras_home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))

    def stall(*args, **kwargs):
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", stall)


def test_imagenet_offline_names_backbone_cache_path_and_alternatives(offline):
    with pytest.raises(WeightsUnavailableError) as error:
        build_backbone("mobilenet_v3_small", weights="imagenet", image_size=32)  # offline fixture
    message = str(error.value)
    assert "'mobilenet_v3_small'" in message
    assert str(offline) in message
    assert "weights_mobilenet_v3_small" in message  # the file to place there
    assert "weights=PATH" in message and "weights=None" in message


def test_imagenet_on_a_stalled_network_fails_instead_of_hanging(stalled_network):
    with pytest.raises(WeightsUnavailableError, match="'resnet50'.*timed out"):
        build_backbone("resnet50", weights="imagenet", image_size=32)  # offline: connections time out


def test_saved_backbone_weights_load_at_another_input_size(tmp_path):
    source = build_backbone("mobilenet_v2", weights=None, image_size=32)
    path = save_backbone(source, tmp_path / "source.weights.h5")
    loaded = build_backbone("mobilenet_v2", weights=path, image_size=48)
    for a, b in zip(source.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_backbone_weights_load_from_a_tfl_classifier_keras_file(tmp_path):
    model = build_model({"backbone": "mobilenet_v2", "weights": None, "image_size": 32}, ["a", "b"])
    model.save(tmp_path / "classifier.keras")
    loaded = build_backbone("mobilenet_v2", weights=tmp_path / "classifier.keras", image_size=32)
    for a, b in zip(model.backbone.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weights_of_another_backbone_are_refused_with_both_named(tmp_path):
    path = save_backbone(build_backbone("mobilenet_v2", weights=None, image_size=32), tmp_path / "m.weights.h5")
    with pytest.raises(WeightsUnavailableError, match=r"does not hold weights of backbone 'mobilenet'"):
        build_backbone("mobilenet", weights=path, image_size=32)


def test_missing_weights_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.weights.h5"):
        build_backbone("vgg16", weights=os.fspath(tmp_path / "nope.weights.h5"), image_size=32)


# EfficientNet's ImageNet preprocessing: the stem reads (pixels / 255 - mean) / std.
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], "float32")
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], "float32")


@pytest.fixture(scope="module")
def efficientnet_imagenet_file(tmp_path_factory):
    """A stand-in for Keras' efficientnetb0_notop.h5, in its legacy .h5 format: random
    weights, and in the Normalization layer what Keras' file holds there (the ImageNet
    mean, and the standard deviations as the variance)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(0)
    model = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(32, 32, 3))
    normalization = next(layer for layer in model.layers if isinstance(layer, keras.layers.Normalization))
    normalization.set_weights([_IMAGENET_MEAN, _IMAGENET_STD, np.array(0, "int64")])
    path = tmp_path_factory.mktemp("efficientnet") / "efficientnetb0_notop.h5"
    with h5py.File(path, "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, model)
    return path


def _stem_input(backbone, images):
    return keras.Model(backbone.input, backbone.get_layer("stem_conv_pad").input)(images).numpy()


def _efficientnet_from(route, imagenet_file, tmp_path):
    if route == "keras_h5":
        return build_backbone("efficientnet_b0", weights=imagenet_file, image_size=32)
    if route == "saved_backbone":
        source = build_backbone("efficientnet_b0", weights=imagenet_file, image_size=32)
        return build_backbone("efficientnet_b0", weights=save_backbone(source, tmp_path / "b.weights.h5"), image_size=32)
    model = build_model({"backbone": "efficientnet_b0", "weights": str(imagenet_file), "image_size": 32}, ["a", "b"])
    model.save(tmp_path / "classifier.keras")
    return build_backbone("efficientnet_b0", weights=tmp_path / "classifier.keras", image_size=32)


@pytest.mark.parametrize(
    "route",
    [
        pytest.param("keras_h5", id="keras_file"),
        pytest.param("saved_backbone", id="save_backbone"),
        pytest.param("classifier_keras", id="classifier_keras_file", marks=pytest.mark.slow),
    ],
)
def test_efficientnet_imagenet_weights_from_a_path_are_preprocessed_as_keras_does(
    efficientnet_imagenet_file, tmp_path, route
):
    # Keras adds a Rescaling by 1/sqrt(std) for these weights, built with weights="imagenet" only:
    # without it, a path gave the stem inputs about half as large as its ImageNet weights expect.
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    backbone = _efficientnet_from(route, efficientnet_imagenet_file, tmp_path)
    np.testing.assert_allclose(_stem_input(backbone, images), (images / 255 - _IMAGENET_MEAN) / _IMAGENET_STD, atol=1e-4)


def test_efficientnet_trained_from_scratch_reloads_unchanged(tmp_path):
    source = build_backbone("efficientnet_b0", weights=None, image_size=32)
    loaded = build_backbone("efficientnet_b0", weights=save_backbone(source, tmp_path / "b.weights.h5"), image_size=32)
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    assert len(loaded.layers) == len(source.layers)
    np.testing.assert_array_equal(_stem_input(loaded, images), _stem_input(source, images))
