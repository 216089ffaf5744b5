"""`weights="imagenet"` through Keras' own download and cache, offline, on the
genuine Keras file of MobileNet(alpha=0.25) from ../shared/data."""

import socket

import numpy as np
import pytest

from tests.conftest import REAL_WEIGHTS_FILE
from tfl.backbones import WeightsUnavailableError
from tfl.backbones import build_backbone
from tfl.backbones import get_backbone_spec
from tfl.backbones import list_backbones


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="module")
def file_weights():
    """The weights as the .h5 file holds them, read by path (no Keras cache involved)."""
    from tests.conftest import shared_data

    path = shared_data("weights", REAL_WEIGHTS_FILE)
    return build_backbone("mobilenet_025", weights=str(path), image_size=224).get_weights()


def _assert_same_weights(backbone, expected):
    actual = backbone.get_weights()
    assert len(actual) == len(expected) == 135
    for a, b in zip(actual, expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "image_size", [224, 200, (160, 224), 112], ids=["224", "200_not_published", "non_square", "112"]
)
def test_imagenet_loads_the_file_keras_publishes_for_the_size_offline(imagenet_home, no_network, file_weights, image_size):
    # Published square sizes get their own file; every other size gets the 224 file (Keras' rule).
    spec = get_backbone_spec("mobilenet_025")
    size = (image_size, image_size) if isinstance(image_size, int) else image_size
    assert spec.imagenet_weights_size(size) == 224

    backbone = build_backbone("mobilenet_025", weights="imagenet", image_size=image_size)

    assert backbone.count_params() == 218_544
    _assert_same_weights(backbone, file_weights)


def test_a_published_size_whose_file_is_missing_names_that_file_and_the_alternatives(imagenet_home, no_network):
    with pytest.raises(WeightsUnavailableError) as error:
        build_backbone("mobilenet_025", weights="imagenet", image_size=160)
    message = str(error.value)
    assert "mobilenet_2_5_160_tf_no_top.h5" in message  # the file Keras asked for
    assert str(imagenet_home / "models") in message  # where to put it
    assert "trained at 160x160" in message and "128, 160, 192, 224" in message
    assert "weights=PATH" in message and "loads at any image size" in message


@pytest.mark.parametrize(
    ("name", "alpha", "file_part"),
    [
        ("mobilenet_050", 0.5, "mobilenet_5_0_224_tf_no_top.h5"),
        ("mobilenet_v2_140", 1.4, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.4_224_no_top.h5"),
        ("mobilenet_v3_small_075", 0.75, "weights_mobilenet_v3_small_224_0.75_float_no_top_v2.h5"),
    ],
    ids=["v1", "v2", "v3"],
)
def test_each_width_variant_asks_keras_for_its_own_file(imagenet_home, no_network, name, alpha, file_part):
    with pytest.raises(WeightsUnavailableError, match=rf"'{name}'.*{file_part}"):
        build_backbone(name, weights="imagenet", image_size=224)
    assert get_backbone_spec(name).kwargs["alpha"] == alpha


@pytest.mark.parametrize("image_size", [96, 160])
def test_mobilenet_v2_140_below_224_asks_for_its_224_file_the_only_one_released(imagenet_home, no_network, image_size):
    # Keras asks for ..._1.4_96_no_top.h5 at 96, which does not exist (HTTP 404, keras-team/keras#16452).
    with pytest.raises(WeightsUnavailableError, match=r"kernels_1\.4_224_no_top\.h5") as error:
        build_backbone("mobilenet_v2_140", weights="imagenet", image_size=image_size)
    assert f"1.4_{image_size}_no_top" not in str(error.value)
    assert get_backbone_spec("mobilenet_v2_140").imagenet_weights_size((image_size, image_size)) == 224


def test_width_variants_are_listed_with_their_arguments_and_weight_sizes():
    rows = {row["name"]: row for row in list_backbones()}
    assert rows["mobilenet_025"]["keras_arguments"] == {"alpha": 0.25}
    assert rows["mobilenet_025"]["feature_dim"] == 256
    assert rows["mobilenet_025"]["imagenet_sizes"] == [128, 160, 192, 224]
    assert rows["mobilenet"]["keras_arguments"] == {}  # plain mobilenet stays alpha 1.0
    assert rows["mobilenet_v3_large_minimalistic"]["keras_arguments"] == {
        "include_preprocessing": True,
        "minimalistic": True,
    }
    assert rows["resnet50"]["imagenet_sizes"] == [224]
    assert rows["mobilenet_v2_035"]["imagenet_sizes"] == [96, 128, 160, 192, 224]
    assert rows["mobilenet_v2_130"]["imagenet_sizes"] == rows["mobilenet_v2_140"]["imagenet_sizes"] == [224]
