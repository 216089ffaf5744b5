"""Fitting heads from class prototypes: the prototype head's probe stage and
`Stage(head_init="prototypes")` for dense heads (tfl/train/prototype_fit.py)."""

import keras
import numpy as np
import pytest

from tests.text_fakes import tiny_encoder
from tfl.config import Stage
from tfl.data import from_texts
from tfl.model import TextClassifier
from tfl.model.prototypes import class_prototypes
from tfl.model.prototypes import leave_one_out_temperature
from tfl.model.prototypes import prototype_scores
from tfl.train import fit_stages
from tfl.train.feature_cache import CacheDecision
from tfl.train.feature_cache import FeatureCache
from tfl.train.fit_stage import choose_route
from tfl.train.prototype_fit import fit_prototypes
from tfl.train.prototype_fit import init_head_from_prototypes

CLASSES = ["negative", "neutral", "positive"]
WORDS = {"negative": "bad awful boring", "neutral": "the cat sat on a mat", "positive": "good great fun"}


def _texts(count, seed):
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(count):
        name = CLASSES[i % 3]
        words = WORDS[name].split() + ["movie", "film", "plot", "acting", "was", "is", "very"]
        texts.append(" ".join(rng.choice(words, size=6)))
        labels.append(name)
    return texts, labels


@pytest.fixture(scope="module")
def encoder():
    keras.utils.set_random_seed(0)
    return tiny_encoder()


@pytest.fixture(scope="module")
def data(encoder):
    return from_texts(*_texts(18, 0), class_names=CLASSES, validation_data=_texts(12, 1),
                      preprocessor=encoder[1], batch_size=6, seed=0)


def _model(encoder, **head):
    keras.utils.set_random_seed(0)
    return TextClassifier(*encoder, CLASSES, encoder_name="tiny", dropout=0.0, **head)


def _features(model, dataset):
    """Features and labels computed here, not by the feature cache."""
    features, labels = [], []
    feature_model = model.feature_model()
    for inputs, batch_labels in dataset:
        features.append(np.asarray(feature_model(inputs)))
        labels.append(np.asarray(batch_labels))
    return np.concatenate(features), np.concatenate(labels)


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_the_probe_stage_of_a_prototype_head_sets_exactly_the_class_means(encoder, data, metric):
    model = _model(encoder, head="prototypes", prototype_metric=metric)
    history = fit_stages(model, data, [Stage("probe")], verbose=0)
    features, labels = _features(model, data.train)
    if metric == "cosine":
        features = features / np.linalg.norm(features, axis=1, keepdims=True)
    means = np.stack([features[labels == k].mean(axis=0) for k in range(3)])
    assert np.abs(means).max() > 1e-2  # features of a real scale, not ~0
    np.testing.assert_allclose(np.asarray(model.head.prototypes), means, rtol=1e-5, atol=1e-6)
    record = history.stages[0]
    assert record.prototypes["examples_per_class"] == {"negative": 6, "neutral": 6, "positive": 6}
    assert record.linear_probe is None and "val_accuracy" in record.history


def test_gradient_stages_after_the_probe_train_the_prototypes(encoder, data):
    model = _model(encoder, head="prototypes")
    fit_stages(model, data, [Stage("probe")], verbose=0)
    means = np.asarray(model.head.prototypes).copy()
    history = fit_stages(model, data, [Stage("none", epochs=2, learning_rate=1e-2)], verbose=0)
    assert history.stages[0].feature_cache.startswith("on")
    assert np.abs(np.asarray(model.head.prototypes) - means).max() > 1e-3


def test_head_init_gives_the_euclidean_prototype_classifier_before_any_step(encoder, data):
    model = _model(encoder)
    features = FeatureCache(model).get(data)
    info = init_head_from_prototypes(model, features)
    train, labels = _features(model, data.train)
    prototypes = class_prototypes(train, labels, 3, metric="euclidean")
    assert info["temperature"] == pytest.approx(leave_one_out_temperature(train, labels, prototypes), rel=1e-4)
    held_out, _ = _features(model, data.validation)
    expected = _softmax(np.asarray(
        prototype_scores(held_out, prototypes, metric="euclidean", temperature=info["temperature"])
    ))
    predicted = np.concatenate([np.asarray(model(inputs)) for inputs, _ in data.validation])
    np.testing.assert_allclose(predicted, expected, atol=1e-5)
    assert expected.max(axis=1).mean() < 0.99  # the starting logits are not saturated


def test_a_stage_with_head_init_starts_from_the_prototypes(encoder, data):
    model = _model(encoder)
    history = fit_stages(model, data, [Stage("none", epochs=1, learning_rate=1e-9, head_init="prototypes")], verbose=0)
    record = history.stages[0].prototypes
    assert (record["head"], record["metric"]) == ("dense", "euclidean")
    train, labels = _features(model, data.train)
    kernel, bias = model.head.get_weights()
    prototypes = np.asarray(class_prototypes(train, labels, 3, metric="euclidean"))
    np.testing.assert_allclose(bias, -np.sum(prototypes**2, axis=1) / record["temperature"], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "stage, prototype_head, route",
    [(Stage("probe"), True, "prototypes"), (Stage("probe"), False, "probe"), (Stage("none"), True, "cached_head")],
    ids=["probe of a prototype head", "probe of a dense head", "head stage"],
)
def test_the_route_of_a_frozen_stage(stage, prototype_head, route):
    assert choose_route(stage, CacheDecision(True, "frozen"), prototype_head=prototype_head) == route


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"unfreeze": "probe", "head_init": "prototypes"}, "A linear probe fits the head itself"),
        ({"head_init": "means"}, "Unknown head_init 'means'. Known: prototypes"),
    ],
    ids=["on a probe", "unknown"],
)
def test_bad_head_inits_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        Stage(**fields)


def test_prototypes_need_single_label_data_and_a_prototype_head(encoder, data):
    features = FeatureCache(_model(encoder)).get(data)
    with pytest.raises(ValueError, match="head='prototypes'"):
        fit_prototypes(_model(encoder), features)
    multi = TextClassifier(*encoder, CLASSES, encoder_name="tiny", multi_label=True)
    with pytest.raises(ValueError, match="multi-label"):
        init_head_from_prototypes(multi, features)


def test_head_init_survives_a_yaml_config(tmp_path):
    from tfl.config import Config

    config = Config().replace(**{"train.stages": [{"unfreeze": "all", "epochs": 2, "head_init": "prototypes"}]})
    path = tmp_path / "config.yaml"
    path.write_text(config.to_yaml())
    (stage,) = Config.from_yaml(str(path)).train.stages
    assert (stage.unfreeze, stage.epochs, stage.head_init) == ("all", 2, "prototypes")
