"""The `Classifier` contract and its `compile`: defaults, user choices, and their survival."""

import collections
import types
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.model import Classifier
from tfl.model import FusionClassifier
from tfl.model import HeadLoss
from tfl.model import balanced_class_weights
from tfl.model import build_model
from tfl.model import head_loss
from tfl.model import load_model
from tfl.model import small_cnn
from tfl.model.fusion_branches import cnn_branch
from tfl.train import FitOptions
from tfl.train import fit_stages

SMALL = dict(backbone=SMALL_BACKBONE, weights=None, image_size=32)


def _images(n=4, seed=0):
    return {"images": np.random.RandomState(seed).uniform(0, 255, (n, 40, 36, 3)).astype("float32")}


def _fusion():
    return FusionClassifier(
        [cnn_branch("a", small_cnn((32, 32), name="a_cnn"), 32), cnn_branch("b", small_cnn((32, 32), name="b_cnn"), 32)],
        ["x", "y"],
    )


@pytest.mark.parametrize("make", [lambda: build_model(ModelConfig(**SMALL), ["a", "b"]), _fusion], ids=["image", "fusion"])
def test_every_classifier_keeps_the_contract_and_its_head_model_is_its_head(make):
    model = make()
    inputs = _images()

    features = model.feature_model().predict(inputs, verbose=0)
    through_head = model.head_model().predict(features, verbose=0)

    assert isinstance(model, Classifier) and model.task == "image"
    assert model.num_classes == 2 and list(model.stage_layers())
    np.testing.assert_allclose(through_head, model.predict(inputs, verbose=0), rtol=1e-5, atol=1e-6)


def test_compile_defaults_are_keras_own_losses_for_each_head():
    single = build_model(ModelConfig(**SMALL), ["a", "b"])
    multi = build_model(ModelConfig(**SMALL, multi_label=True), ["a", "b"])
    single.compile()
    multi.compile()

    assert isinstance(single.loss, keras.losses.SparseCategoricalCrossentropy)
    assert isinstance(multi.loss, keras.losses.BinaryCrossentropy)
    assert [m.name for m in single.training_metrics()] == ["accuracy"]


def test_label_smoothing_matches_keras_categorical_crossentropy_on_one_hot_targets():
    probabilities = np.random.RandomState(0).dirichlet([1, 1, 1], 6).astype("float32")
    labels = np.array([0, 1, 2, 2, 1, 0])
    expected = keras.losses.CategoricalCrossentropy(label_smoothing=0.2)(np.eye(3)[labels], probabilities)

    ours = head_loss(multi_label=False, label_smoothing=0.2)(labels, probabilities)

    np.testing.assert_allclose(float(ours), float(expected), rtol=1e-5)


def test_class_weights_scale_each_examples_loss_by_its_class():
    probabilities = np.random.RandomState(1).dirichlet([1, 1], 8).astype("float32")
    labels = np.array([0, 1, 1, 0, 1, 1, 0, 1])
    plain = keras.losses.SparseCategoricalCrossentropy(reduction=None)(labels, probabilities).numpy()

    weighted = HeadLoss(class_weights=[0.5, 3.0], reduction=None)(labels, probabilities).numpy()

    np.testing.assert_allclose(weighted, plain * np.where(labels == 1, 3.0, 0.5), rtol=1e-5, atol=1e-6)


def test_multi_label_class_weights_scale_only_the_positive_terms():
    probabilities = np.array([[0.8, 0.3]], "float32")
    targets = np.array([[1.0, 1.0]], "float32")
    negatives = np.array([[0.0, 0.0]], "float32")
    loss = HeadLoss(multi_label=True, class_weights=[2.0, 1.0])

    assert float(loss(targets, probabilities)) == pytest.approx((2 * -np.log(0.8) - np.log(0.3)) / 2, rel=1e-5)
    assert float(loss(negatives, probabilities)) == pytest.approx((-np.log(0.2) - np.log(0.7)) / 2, rel=1e-5)


def test_class_weight_takes_names_and_refuses_unknown_classes():
    model = build_model(ModelConfig(**SMALL), ["cat", "dog"])
    model.compile(class_weight={"dog": 4.0})
    assert model.loss.class_weights == [1.0, 4.0]

    with pytest.raises(ValueError, match=r"Unknown class 'emu' in class_weight\. Known: cat, dog"):
        model.compile(class_weight={"emu": 2.0})
    with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\)\. Received: label_smoothing=1"):
        model.compile(label_smoothing=1)
    with pytest.raises(ValueError, match="with your own loss"):
        model.compile(loss="mse", class_weight={"dog": 2.0})


@pytest.mark.parametrize(
    "options, message",
    [({"weight_decay": float("nan")}, r"weight_decay must be a finite number >= 0 or None\. Received: weight_decay=nan"),
     ({"weight_decay": float("inf")}, r"Received: weight_decay=inf"),
     ({"class_weight": {"dog": float("nan")}}, r"A class weight is a finite number >= 0\. Received: class_weight\['dog'\]=nan")],
    ids=["nan-decay", "infinite-decay", "nan-class-weight"],
)
def test_compile_refuses_nan_and_infinite_numbers(options, message):
    model = build_model(ModelConfig(**SMALL), ["cat", "dog"])
    with pytest.raises(ValueError, match=message):
        model.compile(**options)


def test_balanced_needs_the_training_labels_outside_fit_stages():
    model = build_model(ModelConfig(**SMALL), ["cat", "dog"])
    model.compile(class_weight="balanced")
    with pytest.raises(ValueError, match=r"class_weight='balanced' needs the training labels.*fit_stages"):
        model.fit(_images(), np.array([0, 1, 0, 1]), verbose=0)


def test_fit_on_a_tf_data_pipeline_raises_no_shuffle_warning():
    model = build_model(ModelConfig(**SMALL), ["dark", "bright"])
    model.compile()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(tiny_image_data(n=8).train, epochs=1, verbose=0)
    assert not [str(w.message) for w in caught if "shuffle" in str(w.message)]


def test_every_stage_keeps_the_users_choices_and_balanced_is_counted_from_the_data():
    data = tiny_image_data(n=24)
    data.train = data.train.unbatch().filter(lambda x, y: y == 1 or x["images"][0, 0, 0] < 40).batch(8)
    model = build_model(ModelConfig(**SMALL), list(data.class_names))
    model.compile(class_weight="balanced", label_smoothing=0.1, weight_decay=1e-3)
    counts = np.bincount(np.concatenate([y for _, y in data.train.as_numpy_iterator()]), minlength=2)
    data.num_train = int(counts.sum())
    assert counts[0] != counts[1]

    fit_stages(model, data, [Stage("none", 1, 1e-3), Stage("all", 1, 1e-4)], verbose=0, feature_cache="off")

    assert model.loss.class_weights == pytest.approx(balanced_class_weights(counts))
    assert model.loss.label_smoothing == pytest.approx(0.1)
    assert model.optimizer.weight_decay == pytest.approx(1e-3)


def _labelled(labels):
    labels = np.asarray(labels)
    images = np.random.RandomState(0).uniform(0, 255, (len(labels), 32, 32, 3)).astype("float32")
    train = tf.data.Dataset.from_tensor_slices(({"images": images}, labels.astype("int32"))).batch(4)
    return types.SimpleNamespace(train=train, validation=None, num_train=len(labels))


def test_balanced_is_counted_again_from_each_training_set_also_after_a_keras_file(tmp_path):
    """A second fit_stages on other data (another labelled set, a self-training round)
    weighs by its own counts, not the first's: there, the majority class would be upweighted."""
    model = build_model(ModelConfig(**SMALL), ["cat", "dog"])
    model.compile(class_weight="balanced")
    fit_stages(model, _labelled([0] * 6 + [1] * 2), [Stage("none", 1, 1e-3)], verbose=0)
    assert model.class_weights() == pytest.approx(balanced_class_weights([6, 2]))

    fit_stages(model, _labelled([0] * 2 + [1] * 6), [Stage("none", 1, 1e-3)], verbose=0)
    assert model.class_weights() == pytest.approx(balanced_class_weights([2, 6]))

    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.class_weights() == pytest.approx(balanced_class_weights([2, 6]))
    fit_stages(loaded, _labelled([0] * 3 + [1] * 5), [Stage("none", 1, 1e-3)], verbose=0)
    assert loaded.class_weights() == pytest.approx(balanced_class_weights([3, 5]))


def test_the_training_options_survive_a_keras_file(tmp_path):
    model = build_model(ModelConfig(**SMALL), ["cat", "dog"])
    model.compile(label_smoothing=0.05, class_weight={"cat": 2.0}, weight_decay=1e-4)
    model.fit(_images(), np.array([0, 1, 0, 1]), verbose=0)
    model.save(tmp_path / "m.keras")

    loaded = load_model(tmp_path / "m.keras")

    assert loaded.training_options == model.training_options
    assert loaded.loss.class_weights == [2.0, 1.0] and loaded.optimizer.weight_decay == pytest.approx(1e-4)


def test_stage_probe_is_the_linear_probe_stage():
    assert Stage("probe") == Stage("none", linear_probe=True) == Stage.parse("probe")


def test_fit_options_name_an_unknown_option():
    with pytest.raises(TypeError, match=r"Unknown fit option 'verbosity'\. Known: callbacks, verbose"):
        FitOptions.of(None, verbosity=0)


def _mixed_image():
    return build_model(ModelConfig(**SMALL, mixed_precision="mixed_float16"), ["a", "b"]), _images()


def _mixed_fusion():
    from tfl.model import build_fusion_model

    branches = [{"name": "a", "backbone": "small_cnn", "image_size": 32}, {"name": "b", "backbone": "small_cnn", "image_size": 32}]
    model = build_fusion_model(branches, ["a", "b"], fusion="gated", mixed_precision="mixed_bfloat16")
    return model, _images()


def _mixed_text():
    from tests.text_fakes import tiny_encoder
    from tfl.model import TextClassifier
    from tfl.model.dtype_policy import dtype_policy

    with dtype_policy("mixed_float16"):
        encoder, preprocessor = tiny_encoder()
        model = TextClassifier(encoder, preprocessor, ["a", "b"], encoder_name="tiny", pooling="lstm")
    return model, model.preprocessor(tf.constant(["the cat sat", "a good movie"]))


def _policies(model):
    """How many layers of each kind in the model's graph have each dtype policy (input layers aside)."""
    layers = [inner for layer in model.layers for inner in layer._flatten_layers()]
    layers = [layer for layer in layers if not isinstance(layer, keras.layers.InputLayer)]
    return collections.Counter((type(layer).__name__, layer.dtype_policy.name) for layer in layers)


@pytest.mark.parametrize("make", [_mixed_image, _mixed_fusion, _mixed_text], ids=["image", "fusion", "text"])
def test_a_mixed_precision_model_loads_with_the_policy_of_every_layer_and_its_predictions(make, tmp_path):
    model, inputs = make()
    expected = model.predict(inputs, verbose=0)
    model.save(tmp_path / "model.keras")

    loaded = load_model(tmp_path / "model.keras")

    assert _policies(loaded) == _policies(model)
    assert loaded.features.dtype == model.features.dtype != "float32"
    np.testing.assert_array_equal(loaded.predict(inputs, verbose=0), expected)
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.parametrize("kind", ["image", "text", "fusion"])
def test_head_layers_frozen_by_hand_stay_frozen_in_a_keras_file(tmp_path, kind):
    from tests.text_fakes import tiny_encoder_folder

    if kind == "image":
        model = build_model(ModelConfig(**SMALL), ["cat", "dog"])
    elif kind == "text":
        config = ModelConfig(encoder=tiny_encoder_folder(tmp_path / "encoder"), sequence_length=8, pooling="lstm")
        model = build_model(config, ["neg", "pos"], task="text")
    else:
        branches = [cnn_branch("source", small_cnn(32, (4, 8), name="source_cnn"), 32),
                    cnn_branch("target", small_cnn(16, (4, 8), name="target_cnn"), 16)]
        model = FusionClassifier(branches, ["cat", "dog"], fusion={"mode": "gated"}, dropout=0.0)
    frozen = [layer for layer in model.head_layers() if layer.weights][-2:]  # e.g. the fusion layer and the head
    assert frozen[-1] is model.head
    for layer in frozen:
        layer.trainable = False
    model.save(tmp_path / "m.keras")

    loaded = load_model(tmp_path / "m.keras")

    assert loaded.frozen_head_layer_names() == [layer.name for layer in frozen]
    assert len(loaded.trainable_weights) == len(model.trainable_weights)
