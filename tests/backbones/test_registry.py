import dataclasses

import keras
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tfl.backbones import backbone_names
from tfl.backbones import build_backbone
from tfl.backbones import get_backbone_spec
from tfl.backbones import list_backbones
from tfl.backbones import register_backbone
from tfl.backbones import resolve_image_size
from tfl.backbones import stage_layer_names
from tfl.backbones.keras_applications import SPECS
from tfl.backbones.stages import layer_graph

# Over 100M parameters, or slow to build on 2 cores.
LARGE = {
    "nasnet_large", "convnext_large", "convnext_xlarge", "convnext_base",
    "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_m", "efficientnet_v2_l",
    "resnet152", "resnet152_v2", "vgg19",
}
FAST = {"mobilenet", "mobilenet_v2", "mobilenet_v3_small", "vgg16", "resnet50", "efficientnet_b0"}


def _marks(name):
    if name in LARGE:
        return [pytest.mark.slow, pytest.mark.large]
    return [] if name in FAST else [pytest.mark.slow]


# keras.applications' own (the tests register a small network of their own too).
KERAS_NAMES = [spec.name for spec in SPECS]
ALL = [pytest.param(name, id=name, marks=_marks(name)) for name in KERAS_NAMES]


def test_registry_holds_every_image_classifier_of_keras_applications():
    keras_classes = {
        name for name in dir(keras.applications) if name[0].isupper() and callable(getattr(keras.applications, name))
    }
    registered = {get_backbone_spec(name).keras_name for name in backbone_names()}
    assert keras_classes == {get_backbone_spec(name).keras_name for name in KERAS_NAMES}
    assert registered - keras_classes == {"tiny_stages_net"}  # tests/small_backbone.py's


@pytest.mark.parametrize("name", ALL)
def test_backbone_builds_at_min_size_and_stages_cover_every_layer_once_in_order(name):
    spec = get_backbone_spec(name)
    # The layers and their graph are what this checks: in a StatelessScope, Keras defers
    # drawing the random initial weights (ConvNeXt XLarge's 350M values: a third of its build).
    with keras.StatelessScope():
        backbone = build_backbone(name, weights=None, image_size=spec.min_size)
    assert backbone.output.shape[-1] == spec.feature_dim

    stages = stage_layer_names(backbone, spec)
    assert list(stages) == list(spec.stage_names)
    assert all(stages.values()), {k: len(v) for k, v in stages.items()}
    flat = [layer for layers in stages.values() for layer in layers]
    assert sorted(flat) == sorted(layer.name for layer in backbone.layers)
    assert len(flat) == len(set(flat))

    # Data flows forward: no layer reads from a later stage.
    stage_of = {layer: i for i, layers in enumerate(stages.values()) for layer in layers}
    _, parents = layer_graph(backbone)
    for layer, index in stage_of.items():
        for parent in parents[layer]:
            if parent in stage_of:
                assert stage_of[parent] <= index, (layer, parent)


def test_list_backbones_is_one_row_per_backbone_with_its_stages():
    rows = list_backbones()
    assert [row["name"] for row in rows] == backbone_names()
    resnet = next(row for row in rows if row["name"] == "resnet50")
    assert resnet["stages"] == ["stem", "conv2", "conv3", "conv4", "conv5"]
    assert resnet["preprocessing"] == "caffe" and resnet["feature_dim"] == 2048


@pytest.mark.parametrize(
    "spelling", ["ResNet50V2", "resnet50_v2", "resnet50-v2", "RESNET50V2"], ids=str
)
def test_lookup_ignores_case_and_separators(spelling):
    assert get_backbone_spec(spelling).name == "resnet50_v2"


def test_unknown_backbone_lists_close_matches():
    with pytest.raises(ValueError, match=r"Unknown backbone 'resnet5'\. Did you mean: resnet50"):
        get_backbone_spec("resnet5")


@pytest.mark.parametrize(
    "name, close",
    [
        pytest.param("mobilnet", "Did you mean: mobilenet, ", id="close-matches"),
        pytest.param("transformer9000", "", id="no-close-match"),
    ],
)
def test_unknown_backbone_names_only_the_close_matches_and_points_to_the_list(name, close):
    with pytest.raises(ValueError) as raised:
        get_backbone_spec(name)
    message = str(raised.value)
    assert close in message and ("Did you mean" in message) == bool(close)
    assert "`tfl backbones`" in message and "`tfl.list_backbones()`" in message
    assert "convnext_xlarge" not in message and "vgg16" not in message  # not the whole registry


def test_image_size_below_minimum_names_the_minimum():
    with pytest.raises(ValueError, match=r"'inception_v3' needs images of at least 75x75.*image_size=\(32, 32\)"):
        resolve_image_size(get_backbone_spec("inception_v3"), 32)


def test_default_image_size_is_the_backbones_own():
    assert resolve_image_size(get_backbone_spec("efficientnet_b3")) == (300, 300)


def test_a_registered_backbone_is_found_listed_and_never_a_default_rank_candidate():
    from tfl.select.candidates import registered_candidates

    spec = get_backbone_spec("Tiny-Stages-Net")
    assert spec.name == SMALL_BACKBONE and not spec.from_keras_applications
    assert all(get_backbone_spec(name).from_keras_applications for name in KERAS_NAMES)
    row = next(row for row in list_backbones() if row["name"] == SMALL_BACKBONE)
    assert row["stages"] == ["stem", "stride8", "stride16", "stride32"] and row["keras_class"] == "tiny_stages_net"
    assert SMALL_BACKBONE not in [c.backbone for c in registered_candidates()]


def test_registering_a_taken_name_is_refused_unless_replaced():
    spec = get_backbone_spec(SMALL_BACKBONE)
    with pytest.raises(ValueError, match=r"A backbone named 'tiny_stages_net' is registered already.*replace=True"):
        register_backbone(spec)
    taken = dataclasses.replace(get_backbone_spec("mobilenet_025"), name="MobileNet-025")
    with pytest.raises(ValueError, match=r"'mobilenet_025' is registered already \(built by MobileNet\)"):
        register_backbone(taken)
    wider = dataclasses.replace(spec, default_size=64)
    try:
        assert register_backbone(wider, replace=True) is wider
        assert get_backbone_spec(SMALL_BACKBONE).default_size == 64
        assert backbone_names().count(SMALL_BACKBONE) == 1
    finally:
        register_backbone(spec, replace=True)
    with pytest.raises(TypeError, match="takes a tfl.backbones.BackboneSpec. Received: str 'resnet50'"):
        register_backbone("resnet50")


def test_a_model_on_a_registered_backbone_loads_only_where_it_is_registered(tmp_path, monkeypatch):
    import numpy as np

    from tfl.backbones import registry
    from tfl.config import ModelConfig
    from tfl.model import build_model
    from tfl.model import load_model

    model = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), ["a", "b"])
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = load_model(path)
    assert loaded.backbone_name == SMALL_BACKBONE
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), model.get_weights()))
    # A new process that has not registered it: what it reads names the fix.
    monkeypatch.setattr(registry, "_BY_KEY", {k: v for k, v in registry._BY_KEY.items() if v.name != SMALL_BACKBONE})
    with pytest.raises(Exception, match="Unknown backbone 'tiny_stages_net'.*register it again before building or loading"):
        load_model(path)
