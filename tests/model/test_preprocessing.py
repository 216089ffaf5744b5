import importlib

import keras
import numpy as np
import pytest

from tfl.backbones import get_backbone_spec
from tfl.backbones.keras_applications import SPECS
from tfl.model import BackbonePreprocessing


@pytest.mark.parametrize("name", [spec.name for spec in SPECS], ids=str)
def test_layer_matches_the_backbones_own_preprocess_input(name):
    spec = get_backbone_spec(name)
    module = importlib.import_module(f"keras.applications.{spec.module}")
    images = np.random.RandomState(0).uniform(0, 255, (2, 5, 7, 3)).astype("float32")
    expected = module.preprocess_input(images.copy())
    actual = BackbonePreprocessing(spec.preprocessing)(images)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(actual), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch", "none"])
def test_layer_config_round_trip(mode):
    layer = BackbonePreprocessing(mode, name="p")
    clone = BackbonePreprocessing.from_config(layer.get_config())
    images = np.random.RandomState(1).uniform(0, 255, (1, 2, 2, 3)).astype("float32")
    np.testing.assert_array_equal(layer(images), clone(images))


def test_unknown_mode_is_named():
    with pytest.raises(ValueError, match=r"Unknown preprocessing mode 'bgr'\. Known: caffe, tf, torch, none"):
        BackbonePreprocessing("bgr")
