import pytest

from tests.small_backbone import SMALL_BACKBONE
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.model import batchnorm_layers
from tfl.model import build_model
from tfl.train import apply_stage
from tfl.train import resolve_unfreeze

STAGES = ["stem", "conv2", "conv3", "conv4", "conv5"]


@pytest.mark.parametrize(
    "unfreeze, expected",
    [
        pytest.param("none", [], id="none"),
        pytest.param("head", [], id="head-alias"),
        pytest.param("all", STAGES, id="all"),
        pytest.param("top 2", ["conv4", "conv5"], id="top-2"),
        pytest.param("top2", ["conv4", "conv5"], id="top2-no-space"),
        pytest.param(1, ["conv5"], id="int"),
        pytest.param("conv5+conv3", ["conv3", "conv5"], id="names-in-backbone-order"),
        pytest.param(["conv4"], ["conv4"], id="list"),
    ],
)
def test_resolve_unfreeze(unfreeze, expected):
    assert resolve_unfreeze(unfreeze, STAGES) == expected


@pytest.mark.parametrize(
    "unfreeze, message",
    [
        pytest.param("conv6", r"Unknown backbone stage 'conv6'\. This backbone's stages are: stem, conv2", id="unknown"),
        pytest.param("top 9", r"more stages than the backbone has \(5", id="too-many"),
        pytest.param("top 0", r"N >= 1", id="top-0"),
    ],
)
def test_resolve_unfreeze_errors_name_the_stages(unfreeze, message):
    with pytest.raises(ValueError, match=message):
        resolve_unfreeze(unfreeze, STAGES)


@pytest.fixture(scope="module")
def model():
    return build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), ["a", "b"])


def test_head_stage_freezes_the_whole_backbone(model):
    plan = apply_stage(model, Stage(unfreeze="none"))
    assert plan.trainable_stages == ()
    assert model.backbone.trainable_weights == []
    assert {w.path for w in model.trainable_weights} == {w.path for w in model.head.weights}


def test_top_stage_trains_its_layers_but_not_its_batchnorm(model):
    plan = apply_stage(model, Stage(unfreeze="top 1"))
    stages = model.stage_layers()
    assert plan.trainable_stages == ("stride32",)
    trainable = {w.path for w in model.backbone.trainable_weights}
    expected = {w.path for layer in stages["stride32"] for w in layer.weights if not _is_bn(layer)}
    assert trainable == expected
    assert not any(layer.trainable for layer in batchnorm_layers(model))


def test_train_batchnorm_unfreezes_batchnorm_of_selected_stages_only(model):
    plan = apply_stage(model, Stage(unfreeze="top 1", train_batchnorm=True))
    stride32 = set(model.stage_layers()["stride32"])
    assert plan.batchnorm_layers and set(plan.batchnorm_layers) <= stride32
    assert all(layer.trainable == (layer in stride32) for layer in batchnorm_layers(model))


def test_lr_decay_gives_lower_stages_smaller_multipliers(model):
    plan = apply_stage(model, Stage(unfreeze="top 2", lr_decay=0.5))
    stages = model.stage_layers()
    top = {plan.lr_multipliers[w.path] for layer in stages["stride32"] for w in layer.trainable_weights}
    below = {plan.lr_multipliers[w.path] for layer in stages["stride16"] for w in layer.trainable_weights}
    assert top == {0.5} and below == {0.25}
    assert not any(w.path in plan.lr_multipliers for w in model.head.weights)


def _is_bn(layer):
    return layer in batchnorm_layers(layer) or type(layer).__name__ == "BatchNormalization"


def _two_cnn_branches():
    return [{"name": name, "backbone": "small_cnn", "image_size": 16, "filters": [4]} for name in ("a", "b")]


def test_lr_decay_gives_each_branch_of_one_architecture_its_own_multiplier():
    from tfl.model import build_fusion_model

    built = build_fusion_model(_two_cnn_branches(), ["dark", "bright"])
    for model in (built, type(built).from_config(built.get_config())):  # as built, as loaded
        plan = apply_stage(model, Stage(unfreeze="a/block1+b/block1", lr_decay=0.5))

        for name, multiplier in (("b", 0.5), ("a", 0.25)):  # b's stages count as the top
            kernel = model.backbones[name].get_layer("block1_conv").kernel
            assert plan.lr_multipliers[kernel.path] == multiplier


def test_lr_decay_refuses_branches_whose_variables_share_a_path():
    from tfl.model import FusionClassifier
    from tfl.model import cnn_branch
    from tfl.model import small_cnn

    model = FusionClassifier(
        [cnn_branch(name, small_cnn(16, (4,), name=f"{name}_cnn"), 16) for name in ("a", "b")], ["dark", "bright"]
    )

    with pytest.raises(ValueError, match=r"FusionClassifier.*'block1_conv/kernel'.*keras.name_scope\('a'\).*lr_decay=None"):
        apply_stage(model, Stage(unfreeze="all", lr_decay=0.5))
    assert apply_stage(model, Stage(unfreeze="all")).lr_multipliers == {}
