import os

import pytest
import yaml

from tfl.config import CONFIG_VERSION
from tfl.config import Config
from tfl.config import Stage
from tfl.config import TrainConfig
from tfl.config import parse_stages
from tfl.config.reference import config_reference

EXAMPLE = """\
data:
  source: flowers/
  batch_size: 16
model:
  backbone: resnet50
  weights: none
  image_size: 64
  augmentation: {flip: horizontal, zoom: 0.1}
train:
  stages:
    - {unfreeze: head, epochs: 2, learning_rate: 1e-3}
    - {unfreeze: [conv4, conv5], epochs: 1, learning_rate: 1e-5, lr_decay: 0.5}
"""


@pytest.fixture
def example(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(EXAMPLE)
    return path


def test_yaml_values_arrive_typed_and_normalised(example):
    config = Config.from_yaml(example)
    assert config.model.weights is None
    assert config.model.image_size == (64, 64)
    assert config.model.augmentation.flip == "horizontal" and config.model.augmentation.enabled
    head, top = config.train.stages
    assert head.unfreeze == "none" and head.learning_rate == 1e-3  # YAML reads 1e-3 as a string
    assert top.unfreeze == "conv4+conv5" and top.lr_decay == 0.5


def test_yaml_round_trip_is_identical(example, tmp_path):
    config = Config.from_yaml(example)
    again = tmp_path / "again.yaml"
    again.write_text(config.to_yaml())
    assert Config.from_yaml(again) == config


def test_a_config_from_before_resize_loads_with_crop(example):
    assert "resize" not in EXAMPLE
    assert Config.from_yaml(example).model.resize == "crop"


def test_resize_survives_a_yaml_round_trip(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("model:\n  image_size: [32, 48]\n  resize: stretch\n")
    config = Config.from_yaml(path)
    again = tmp_path / "again.yaml"
    again.write_text(config.to_yaml())

    assert config.model.resize == "stretch"
    assert Config.from_yaml(again) == config and "resize: stretch" in config.to_yaml()


@pytest.mark.parametrize(
    "raw, message",
    [
        pytest.param({"modle": {}}, r"Unknown config key 'modle'\. Did you mean 'model'\?", id="unknown-section"),
        pytest.param({"train": {"stages": [{"unfreze": "all"}]}},
                     r"Unknown config key 'train\.stages\[0\]\.unfreze'\. Did you mean 'unfreeze'", id="unknown-nested"),
        pytest.param({"data": {"batch_size": "big"}}, r"data\.batch_size must be an integer\. Received: 'big'", id="wrong-int"),
        pytest.param({"data": {"cache": "yes"}}, r"data\.cache must be true or false", id="wrong-bool"),
        pytest.param({"model": {"dropout": "lots"}}, r"model\.dropout must be a number", id="wrong-float"),
        pytest.param({"train": {"epochs": -1}}, r"train: epochs must be >= 1\. Received: epochs=-1", id="negative-epochs"),
        pytest.param({"train": {"stages": [{"epochs": 0}]}}, r"train\.stages\[0\]: A stage needs a whole number of epochs >= 1", id="zero-stage-epochs"),
        pytest.param({"train": {"stages": [{"optimizer": "adagrad"}]}}, r"Unknown optimizer 'adagrad'\. Known: adam, adamw, sgd, rmsprop", id="optimizer"),
        pytest.param({"model": {"pooling": "median"}}, r"model: Unknown pooling 'median'\. Known: avg, max for images, cls, mean, lstm for text .*Received: pooling='median'", id="pooling"),
        pytest.param({"task": "image", "model": {"pooling": "mean"}}, r"pooling 'mean' does not apply to task 'image'\. Known for image: avg, max", id="pooling-of-other-task"),
        pytest.param({"task": "audio"}, r"Unknown task 'audio'\. Known: image, text", id="task"),
        pytest.param({"model": {"sequence_length": 2}}, r"sequence_length counts tokens .* >= 8\. Received: sequence_length=2", id="sequence-length"),
        pytest.param({"data": {"validation_split": 1.5}}, r"validation_split is the held-out fraction, in \(0, 1\)", id="split"),
        pytest.param({"version": CONFIG_VERSION + 1}, r"newer than this tfl understands", id="future-version"),
        pytest.param({"model": {"resize": "pad"}}, r"model: Unknown resize 'pad'\. Known: crop .*stretch .*--resize", id="resize"),
        pytest.param({"model": {"resize": True}}, r"model\.resize must be a string\. Received: True", id="resize-not-a-string"),
        pytest.param({"model": {"mixed_precision": "float8"}}, r"Unknown mixed_precision 'float8'\. Known: mixed_float16, mixed_bfloat16", id="mixed-precision"),
        pytest.param({"train": {"feature_cache": "disk"}}, r"Unknown feature_cache 'disk'\. Known: auto, off", id="feature-cache"),
        pytest.param({"train": {"augmented_views": 0}}, r"augmented_views must be >= 1\. Received: augmented_views=0", id="views"),
        pytest.param({"train": {"stages": [{"unfreeze": "top 1", "linear_probe": True}]}}, r"train\.stages\[0\]: A linear probe .* needs unfreeze='none'", id="probe-unfrozen"),
        pytest.param({"train": {"early_stopping": 0}}, r"train: early_stopping is the patience in epochs \(>= 1\)", id="early-stopping"),
        pytest.param({"train": {"stages": [{"unfreeze": "all", "early_stopping": -1}]}}, r"train\.stages\[0\]: early_stopping is the patience", id="stage-early-stopping"),
        pytest.param({"model": {"fusion": {"mode": "sum"}}}, r"Unknown fusion mode 'sum'\. Known: weighted, gated, concat", id="fusion-mode"),
        pytest.param({"model": {"fusion": {"alpha": 1.5}}}, r"model\.fusion: fusion alpha is a mixing weight in \[0, 1\]\. Received: alpha=1\.5", id="fusion-alpha"),
        pytest.param({"model": {"fusion": {"mode": "gated"}, "augmentation": {"flip": "horizontal"}}}, r"does not run image augmentation yet", id="fusion-augmentation"),
        pytest.param({"train": {"adaptation": {"method": "cmd"}}}, r"Unknown adaptation method 'cmd'\. Known: source_only, joint, mmd, coral, dann", id="adapt-method"),
        pytest.param({"train": {"adaptation": {"beta": -0.1}}}, r"beta is a mixing weight in \[0, 1\]\. Received: beta=-0\.1", id="adapt-beta"),
        pytest.param({"train": {"adaptation": {"align_weight": -1}}}, r"align_weight is a weight >= 0", id="adapt-lambda"),
        pytest.param({"train": {"adaptation": {"method": "joint", "beta": 0}}}, r"beta=0 with method='joint' .* nothing would learn on the target", id="adapt-nothing-to-learn"),
        pytest.param({"train": {"adaptation": {"method": "source_only", "alpha": 0}}}, r"method 'source_only' learns from the source loss alone, and alpha=0 .*--adapt-alpha", id="adapt-source-only-alpha-zero"),
        pytest.param({"train": {"adaptation": {"method": "joint", "labels_per_class": 0}}}, r"labels_per_class=0 withholds every target label, and method 'joint' .*--target-labels-per-class", id="adapt-joint-without-labels"),
        pytest.param({"train": {"adaptation": {"method": "coral", "align_weight": 0, "labels_per_class": 0}}}, r"labels_per_class=0 .* method 'coral' with align_weight=0\.0 has no alignment term", id="adapt-no-alignment-without-labels"),
        pytest.param({"train": {"adaptation": {"restore_best": "acc"}}}, r"Unknown restore_best 'acc'\. Known: im, snd", id="adapt-restore"),
        pytest.param({"train": {"adaptation": {"method": "mmd"}}}, r"data\.target_source is not set", id="adapt-without-target"),
        pytest.param({"data": {"target_source": "shifted/"}}, r"train\.adaptation\.method is not set", id="target-without-method"),
        pytest.param({"task": "text", "data": {"target_source": "t/"}, "train": {"adaptation": {"method": "mmd"}}}, r"apply to image tasks", id="adapt-text"),
    ],
)
def test_bad_values_name_the_key_and_the_fix(raw, message):
    with pytest.raises(ValueError, match=message):
        Config.from_dict(raw)


@pytest.mark.parametrize(
    "section, key, value",
    [
        pytest.param("train", "weight_decay", "nan", id="weight-decay-nan"),
        pytest.param("train", "weight_decay", "inf", id="weight-decay-inf"),
        pytest.param("train", "mixup", "nan", id="mixup-nan"),
        pytest.param("train", "mixup", "inf", id="mixup-inf"),
        pytest.param("train", "cutmix", "nan", id="cutmix-nan"),
        pytest.param("train", "cutmix", "inf", id="cutmix-inf"),
        pytest.param("train.self_training", "lambda_u", "nan", id="lambda-u-nan"),
        pytest.param("train.self_training", "lambda_u", "inf", id="lambda-u-inf"),
        pytest.param("train.adaptation", "learning_rate", "inf", id="adaptation-learning-rate-inf"),
        pytest.param("model", "prototype_temperature", "inf", id="prototype-temperature-inf"),
    ],
)
def test_a_nan_or_infinite_number_is_refused_naming_the_key(tmp_path, section, key, value):
    path = tmp_path / "config.yaml"
    indent = "  " * section.count(".")
    nested = "".join(f"{'  ' * depth}{name}:\n" for depth, name in enumerate(section.split(".")))
    path.write_text(f"{nested}{indent}  {key}: .{value}\n")  # YAML's .nan and .inf
    with pytest.raises(ValueError, match=rf"{section}: .*{key}.* finite.*Received: {key}={value}"):
        Config.from_yaml(path)


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), -1.0], ids=["nan", "inf", "negative"])
def test_a_class_weight_that_is_not_a_finite_weight_is_refused_naming_the_class(weight):
    with pytest.raises(ValueError, match=r"train: class_weight maps class names to finite weights >= 0 .*'ants'"):
        Config.from_dict({"train": {"class_weight": {"ants": weight, "bees": 1.0}}})


def test_a_stage_refuses_an_infinite_learning_rate():
    with pytest.raises(ValueError, match=r"train\.stages\[0\]: A stage needs a finite learning rate > 0"):
        Config.from_dict({"train": {"stages": [{"unfreeze": "all", "learning_rate": float("inf")}]}})


@pytest.mark.parametrize(
    "unfreeze, expected",
    [
        pytest.param(2, "top 2", id="number"),
        pytest.param("Top2", "top 2", id="top-n"),
        pytest.param("head", "none", id="head-alias"),
        pytest.param(["conv4", "conv5"], "conv4+conv5", id="names"),
    ],
)
def test_the_adaptation_unfreeze_is_kept_in_a_stages_form_and_written_so(tmp_path, unfreeze, expected):
    config = Config.from_dict({"train": {"adaptation": {"unfreeze": unfreeze}}})
    assert config.train.adaptation.unfreeze == expected == Stage(unfreeze=unfreeze).unfreeze
    path = tmp_path / "config.yaml"
    path.write_text(config.to_yaml())
    assert yaml.safe_load(path.read_text())["train"]["adaptation"]["unfreeze"] == expected
    assert Config.from_yaml(path) == config


@pytest.mark.parametrize(
    "unfreeze, reason",
    [
        pytest.param("probe", r"'probe' is a linear-probe stage, .*Set train\.adaptation\.unfreeze to none .*in train\.stages", id="probe"),
        pytest.param(["probe"], r"'probe' is a linear-probe stage", id="probe-in-a-list"),
        pytest.param(0, r"'top N' needs N >= 1\. Received: unfreeze=0", id="top-0"),
        pytest.param(True, r"Received: unfreeze=True", id="bool"),
        pytest.param("conv4+", r"Empty stage name", id="empty-name"),
    ],
)
def test_an_adaptation_unfreeze_that_adaptation_cannot_use_is_refused_with_the_known_values(unfreeze, reason):
    known = r"train\.adaptation: unfreeze is what trains besides the head while adapting: all, none .*top N .*'\+'"
    with pytest.raises(ValueError, match=known + ".*" + reason):
        Config.from_dict({"train": {"adaptation": {"unfreeze": unfreeze}}})


def test_early_stopping_of_the_train_section_and_of_a_stage_round_trip(tmp_path):
    config = Config.from_dict(
        {"train": {"early_stopping": 3, "stages": [{"unfreeze": "all", "epochs": 9, "early_stopping": 2}]}}
    )
    path = tmp_path / "config.yaml"
    path.write_text(config.to_yaml())
    again = Config.from_yaml(path)
    assert again == config
    assert (again.train.early_stopping, again.train.stages[0].early_stopping) == (3, 2)


def test_yaml_error_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  backbone: [unclosed\n")
    with pytest.raises(ValueError, match="bad.yaml is not valid YAML"):
        Config.from_yaml(path)


def test_replace_applies_dotted_keys_and_validates():
    config = Config().replace(**{"model.backbone": "vgg16", "data.batch_size": 8})
    assert (config.model.backbone, config.data.batch_size) == ("vgg16", 8)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        config.replace(**{"data.batch_size": 0})


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("none:5:1e-3", [("none", 5, 1e-3)], id="head"),
        pytest.param("none:5,top2:3", [("none", 5, 1e-3), ("top 2", 3, 1e-4)], id="default-rates"),
        pytest.param("all", [("all", 7, 1e-4)], id="epochs-from-flag"),
        pytest.param("conv4+conv5:2:3e-5", [("conv4+conv5", 2, 3e-5)], id="names"),
    ],
)
def test_parse_stages(text, expected):
    stages = parse_stages(text, epochs=7)
    assert [(s.unfreeze, s.epochs, s.learning_rate) for s in stages] == expected


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param("none:x", "EPOCHS must be an integer", id="epochs-not-int"),
        pytest.param("a:1:2:3", r"Write UNFREEZE\[:EPOCHS\[:LEARNING_RATE\]\]", id="too-many-parts"),
        pytest.param(":3", r"Write UNFREEZE\[:EPOCHS", id="no-unfreeze"),
        pytest.param(",", "No stages in ','", id="empty"),
    ],
)
def test_unreadable_stage_text_shows_the_format(text, message):
    with pytest.raises(ValueError, match=message):
        parse_stages(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("probe,top2", id="probe-then-backbone"),
        pytest.param("none,all:2", id="head-then-all"),
        pytest.param("top1:3:5e-5", id="everything-given"),
    ],
)
def test_plan_strings_in_a_config_file_read_as_the_stages_flag_reads_them(tmp_path, text):
    path = tmp_path / "config.yaml"
    items = ", ".join(f'"{item}"' for item in text.split(","))
    path.write_text(f"train:\n  epochs: 4\n  stages: [{items}]\n")
    assert Config.from_yaml(path).train.stages == parse_stages(text, epochs=4)


def test_plan_strings_given_from_python_are_stages_too():
    config = Config(train=TrainConfig(stages=("probe", "top2"), epochs=3))
    assert config.train.stages == parse_stages("probe,top2", epochs=3)
    assert all(isinstance(stage, Stage) for stage in config.train.stages)


def test_an_unreadable_plan_string_in_a_config_names_its_place():
    with pytest.raises(ValueError, match=r"train: stages\[1\]: Cannot read stage 'top2:x'"):
        Config.from_dict({"train": {"stages": ["probe", "top2:x"]}})


def test_stage_rejects_bad_lr_decay():
    with pytest.raises(ValueError, match=r"lr_decay .* must be in \(0, 1\]"):
        Stage(lr_decay=2.0)


def test_config_reference_in_docs_is_current():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "config.md")
    with open(path, encoding="utf-8") as f:
        assert f.read() == config_reference(), "Run: python -m tfl.config.reference > docs/config.md"


def test_fusion_and_adaptation_keys_round_trip_through_yaml(tmp_path):
    config = Config.from_dict({
        "data": {"source": "digits", "target_source": "digits_recoloured"},
        "model": {"fusion": {"mode": "weighted", "alpha": 0.7, "branch": "resnet50", "branch_weights": "none"}},
        "train": {"adaptation": {"method": "dann", "align_weight": "3e-1", "labels_per_class": 5, "restore_best": "im"}},
    })
    assert config.model.fusion.branch_weights is None and config.train.adaptation.align_weight == 0.3
    path = tmp_path / "config.yaml"
    path.write_text(config.to_yaml())
    assert Config.from_yaml(path) == config


def test_overrides_of_a_config_file_are_read_with_its_plan_strings(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("train:\n  epochs: 2\n  stages: [probe, top2]\n")
    config = Config.from_yaml(path, {"train.epochs": 5, "model.augmentation.zoom": 0.1})
    assert config.train.stages == parse_stages("probe,top2", epochs=5)
    assert config.model.augmentation.zoom == 0.1
    assert Config.from_yaml(path).train.stages == parse_stages("probe,top2", epochs=2)
