"""The prototype head: the layer, the classifier option, `add_classes`, and the
round trip add classes -> .keras -> load -> SavedModel -> serving on raw inputs."""

import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.small_backbone import SMALL_BACKBONE
from tests.text_fakes import tiny_encoder
from tests.train.helpers import tiny_image_data
from tfl.config import Config
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.export import export_model
from tfl.io import save_keras
from tfl.model import ImageClassifier
from tfl.model import PrototypeHead
from tfl.model import TextClassifier
from tfl.model import batchnorm_layers
from tfl.model import build_model
from tfl.model import load_model
from tfl.model.prototypes import class_prototypes
from tfl.model.prototypes import prototype_scores
from tfl.train import fit_stages
from tfl.train import recalibrate_batchnorm

SERVING_PROCESS = str(pathlib.Path(__file__).parents[1] / "export" / "serving_process.py")


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("metric, temperature", [("cosine", None), ("euclidean", 0.5)])
def test_the_layer_is_a_softmax_over_prototype_scores_and_survives_its_config(metric, temperature):
    head = PrototypeHead(3, metric=metric, temperature=temperature, name="predictions")
    features = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    probabilities = np.asarray(head(features))
    expected = _softmax(np.asarray(prototype_scores(features, head.prototypes, metric=metric, temperature=temperature)))
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    assert probabilities.dtype == np.float32
    copy = PrototypeHead.from_config(head.get_config())
    copy.build((None, 4))
    copy.set_weights(head.get_weights())
    assert (copy.metric, copy.temperature, copy.num_classes) == (metric, temperature, 3)
    np.testing.assert_allclose(np.asarray(copy(features)), probabilities, atol=1e-7)


def test_the_model_config_keeps_the_head_through_yaml(tmp_path):
    config = Config().replace(
        **{"model.head": "prototypes", "model.prototype_metric": "euclidean", "model.prototype_temperature": 2.0}
    )
    path = tmp_path / "config.yaml"
    path.write_text(config.to_yaml())
    model = Config.from_yaml(str(path)).model
    assert (model.head, model.prototype_metric, model.prototype_temperature) == ("prototypes", "euclidean", 2.0)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"head": "knn"}, "Unknown head 'knn'. Known: dense, prototypes"),
        ({"head": "prototypes", "prototype_metric": "dot"}, "Known: cosine, euclidean"),
        ({"head": "prototypes", "prototype_temperature": 0}, "prototype_temperature must be a number > 0"),
        ({"head": "prototypes", "multi_label": True}, "single-label"),
        ({"head": "prototypes", "fusion": {"mode": "concat"}}, "not built for fusion models"),
    ],
    ids=["unknown head", "unknown metric", "zero temperature", "multi-label", "fusion"],
)
def test_bad_head_choices_are_refused_naming_the_accepted_ones(fields, message):
    with pytest.raises(ValueError, match=message):
        Config.from_dict({"model": fields})


def test_the_cli_flags_set_the_head():
    from tfl.cli.main import build_parser
    from tfl.cli.train import config_from_args

    args = build_parser().parse_args(
        ["train", "--data", "digits", "--head", "prototypes", "--prototype-metric", "euclidean",
         "--prototype-temperature", "3"]
    )
    model = config_from_args(args).model
    assert (model.head, model.prototype_metric, model.prototype_temperature) == ("prototypes", "euclidean", 3.0)


@pytest.fixture(scope="module")
def fitted():
    """A prototype-head image model whose prototypes are its training data's class
    means (the probe stage), with BatchNorm statistics recomputed on that data."""
    keras.utils.set_random_seed(0)
    data = tiny_image_data(n=16, size=32)
    config = ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, head="prototypes")
    model = build_model(config, ["dark", "bright"])
    recalibrate_batchnorm(model, data.train, batchnorm_layers(model.backbone))
    fit_stages(model, data, [Stage("probe")], verbose=0)
    return model, data


@pytest.fixture(scope="module")
def grey_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("grey")
    paths = []
    for i, level in enumerate((110, 130, 150)):
        pixels = np.full((40, 36, 3), level, np.uint8) + np.random.default_rng(i).integers(0, 8, (40, 36, 3), np.uint8)
        path = root / f"{i}.png"
        path.write_bytes(tf.io.encode_png(pixels).numpy())
        paths.append(str(path))
    return paths


def test_class_scores_are_the_centred_prototype_scores(fitted):
    model, data = fitted
    features = np.asarray(model.feature_model()({"images": data.images[:4]}))
    scores = np.asarray(model.class_scores(features))
    raw = np.asarray(prototype_scores(features, model.head.prototypes, metric="cosine", temperature=0.1))
    np.testing.assert_allclose(scores, raw - raw.mean(axis=1, keepdims=True), atol=1e-4)


def test_added_classes_round_trip_through_keras_and_the_serving_signature(fitted, grey_files, tmp_path):
    model, data = fitted
    before = np.asarray(model({"images": data.images[:4]}))
    extended = model.add_classes({"grey": grey_files, "white": np.full((2, 32, 32, 3), 250.0)})
    # The original is unchanged; the new prototypes are the new classes' feature means.
    assert model.class_names == ["dark", "bright"]
    np.testing.assert_array_equal(np.asarray(model({"images": data.images[:4]})), before)
    assert extended.class_names == ["dark", "bright", "grey", "white"]
    pixels = tfl_load(grey_files)
    grey = extended.feature_model()({"images": pixels})
    expected = class_prototypes(grey, [0, 0, 0], 1, metric="cosine")
    np.testing.assert_allclose(np.asarray(extended.head.prototypes)[2:3], np.asarray(expected), atol=1e-5)
    np.testing.assert_allclose(np.asarray(extended.head.prototypes)[:2], np.asarray(model.head.prototypes))
    probabilities = np.asarray(extended({"images": pixels}))
    assert probabilities.argmax(axis=1).tolist() == [2, 2, 2]

    save_keras(extended, tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    assert loaded.class_names == extended.class_names and isinstance(loaded.head, PrototypeHead)
    keras_probabilities = np.asarray(loaded({"images": pixels}))
    np.testing.assert_allclose(keras_probabilities, probabilities, atol=1e-6)

    exported = export_model(loaded, "grey", base=str(tmp_path / "saved_models"))
    inputs, outputs = tmp_path / "inputs.npz", tmp_path / "outputs.npz"
    contents = np.array([pathlib.Path(p).read_bytes() for p in grey_files], dtype=bytes)
    np.savez(inputs, batch_sizes=np.array([3]), images=contents)
    subprocess.run([sys.executable, SERVING_PROCESS, exported.path, "serving_default", str(inputs), str(outputs)],
                   check=True, capture_output=True, timeout=300)
    served = dict(np.load(outputs))
    np.testing.assert_allclose(served["3/probabilities"], keras_probabilities, atol=1e-5)
    assert served["3/class_names"][:, 0].tolist() == ["grey"] * 3


def tfl_load(paths):
    from tfl.data import load_images

    return load_images(paths, (32, 32))


def test_a_text_model_adds_a_class_from_strings():
    encoder, preprocessor = tiny_encoder()
    model = TextClassifier(encoder, preprocessor, ["good", "bad"], encoder_name="tiny", head="prototypes",
                           prototype_metric="euclidean")
    texts = ["the cat sat on the mat", "a dog sat"]
    extended = model.add_classes({"animals": texts})
    features = model.feature_model().predict(preprocessor(tf.constant(texts)), verbose=0)
    np.testing.assert_allclose(np.asarray(extended.head.prototypes)[2], features.mean(axis=0), atol=1e-5)
    copy = TextClassifier.from_config(extended.get_config())
    assert (copy.head_type, copy.prototype_metric) == ("prototypes", "euclidean")
    assert copy.class_names == ["good", "bad", "animals"]


def test_a_text_model_with_added_classes_reads_strings_and_round_trips_through_keras(tmp_path):
    from tfl.prediction import predict

    encoder, preprocessor = tiny_encoder()
    model = TextClassifier(encoder, preprocessor, ["good", "bad"], encoder_name="tiny", head="prototypes")
    extended = model.add_classes({"animals": ["the cat sat on the mat", "a dog sat"]})
    texts = ["a cat sat", "good"]
    # The copy tokenizes with the original's vocabulary (an asset, not part of get_config()).
    expected = np.asarray(extended(preprocessor(tf.constant(texts))))
    np.testing.assert_allclose(predict(extended, texts).probabilities, expected, atol=1e-6)

    save_keras(extended, tmp_path / "text.keras")
    loaded = load_model(tmp_path / "text.keras")
    assert loaded.class_names == ["good", "bad", "animals"]
    np.testing.assert_allclose(predict(loaded, texts).probabilities, expected, atol=1e-6)


@pytest.fixture(scope="module")
def dense_model():
    backbone_config = ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32)
    return build_model(backbone_config, ["dark", "bright"])


def test_add_classes_on_a_dense_head_names_the_fix(dense_model):
    with pytest.raises(ValueError, match="head='prototypes'"):
        dense_model.add_classes({"grey": np.zeros((1, 32, 32, 3))})


@pytest.mark.parametrize(
    "examples, message",
    [
        ({"dark": np.zeros((1, 32, 32, 3))}, "Class names must be unique; repeated: dark"),
        ({3: np.zeros((1, 32, 32, 3))}, "must be a list of strings"),
        ({}, "takes \\{class name: examples\\}"),
        ({"grey": np.zeros((1, 32, 32))}, "must be image file paths or RGB arrays"),
        ({"grey": []}, "has no example"),
    ],
    ids=["duplicate", "not a string", "empty", "grey array", "no example"],
)
def test_add_classes_refuses_bad_classes(fitted, examples, message):
    model, _ = fitted
    with pytest.raises(ValueError, match=message):
        model.add_classes(examples)


def test_a_dense_image_classifier_is_unchanged_by_the_option(dense_model):
    config = dense_model.get_config()
    assert (config["head"], type(dense_model.head).__name__) == ("dense", "Dense")
    assert ImageClassifier.from_config(config).head_type == "dense"
