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
