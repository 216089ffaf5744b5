import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.config.model_config import AugmentationConfig
from tfl.model import build_model
from tfl.train import fit_stages
from tfl.train.feature_cache import FeatureCache
from tfl.train.feature_cache import cache_decision
from tfl.train.feature_cache import examples_digest


def _model(augmentation=None, dropout=0.0):
    config = ModelConfig(
        backbone=SMALL_BACKBONE,
        weights=None,
        image_size=32,
        dropout=dropout,
        augmentation=augmentation or AugmentationConfig(),
    )
    return build_model(config, ["dark", "bright"], seed=3)


def _first_kernel(model):
    return next(layer for layer in model.backbone.layers if layer.weights).weights[0]


def _weights(layers):
    return [np.array(w.numpy()) for layer in layers for w in layer.weights]


def test_full_model_equals_the_head_applied_to_cached_features_after_a_cached_stage():
    model = _model(dropout=0.3)
    data = tiny_image_data()

    history = fit_stages(model, data, [Stage("none", epochs=2, learning_rate=1e-2)], verbose=0)

    assert history.stages[0].feature_cache.startswith("on")
    cached = FeatureCache(model).get(data)
    from_head = model.head_model()(cached.validation_features, training=False)
    from_model = model.predict({"images": data.images}, verbose=0)
    np.testing.assert_allclose(np.asarray(from_head), from_model, atol=1e-5)


def test_cached_head_stage_trains_the_models_own_head_and_leaves_the_backbone_alone():
    model = _model()
    data = tiny_image_data()
    backbone_before = _weights(model.backbone.layers)
    head_before = _weights([model.head])

    fit_stages(model, data, [Stage("none", epochs=2, learning_rate=1e-2)], verbose=0)

    assert all(np.array_equal(a, b) for a, b in zip(backbone_before, _weights(model.backbone.layers)))
    assert not any(np.array_equal(a, b) for a, b in zip(head_before, _weights([model.head])))


def test_cached_and_uncached_head_stages_report_the_same_history_keys():
    data = tiny_image_data()
    cached = fit_stages(_model(), data, [Stage("none", epochs=2)], verbose=0)
    uncached = fit_stages(_model(), data, [Stage("none", epochs=2)], verbose=0, feature_cache="off")

    assert uncached.stages[0].feature_cache.startswith("off")
    assert set(cached.history) == set(uncached.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(cached.history["val_accuracy"]) == 2


@pytest.mark.parametrize(
    "stage, mode, augmented, views, expected",
    [
        pytest.param(Stage("none"), "auto", False, 1, "on (frozen backbone, no augmentation)", id="frozen"),
        pytest.param(Stage("top 1"), "auto", False, 1, "off (the backbone trains in this stage)", id="unfrozen"),
        pytest.param(Stage("none"), "off", False, 1, "off (feature_cache is off)", id="switched-off"),
        pytest.param(Stage("none"), "auto", True, 1, "off (augmentation changes", id="augmented"),
        pytest.param(Stage("none"), "auto", True, 3, "on (frozen backbone; 3 augmented views", id="views"),
        pytest.param(Stage(linear_probe=True), "off", False, 1, "on (a linear probe", id="probe-needs-features"),
    ],
)
def test_cache_decision_names_its_reason(stage, mode, augmented, views, expected):
    model = _model(AugmentationConfig(flip="horizontal") if augmented else None)
    assert str(cache_decision(model, stage, mode, views)).startswith(expected)


def test_unknown_feature_cache_mode_is_named():
    with pytest.raises(ValueError, match="Unknown feature_cache 'sometimes'. Known: auto, off"):
        cache_decision(_model(), Stage("none"), "sometimes")


def test_stage_log_says_whether_the_cache_is_used(capsys):
    fit_stages(_model(), tiny_image_data(), [Stage("none", epochs=1), Stage("top 1", epochs=1)], verbose=2)
    out = capsys.readouterr().out
    assert "Feature cache: on (frozen backbone, no augmentation)" in out
    assert "Feature cache: off (the backbone trains in this stage)" in out


def test_augmented_views_cache_that_many_differently_augmented_copies():
    model = _model(AugmentationConfig(flip="horizontal", rotation=0.2))
    data = tiny_image_data(n=8)
    data.train = data.validation  # one fixed order, so view k is rows 8k..8k+7

    cached = FeatureCache(model, augmented_views=3).get(data)

    assert cached.train_features.shape[0] == 3 * 8
    first, second = cached.train_features[:8], cached.train_features[8:16]
    assert not np.allclose(first, second, rtol=1e-3, atol=0)  # the views differ
    np.testing.assert_array_equal(cached.train_labels[:8], cached.train_labels[8:16])
    history = fit_stages(model, data, [Stage("none", epochs=1)], verbose=0, augmented_views=3)
    assert history.stages[0].feature_cache.startswith("on (frozen backbone; 3 augmented views")


def test_features_are_computed_again_after_the_backbone_changed():
    model = _model()
    data = tiny_image_data(n=8)
    cache = FeatureCache(model)
    first = cache.get(data)
    assert cache.get(data) is first  # unchanged weights: the same features

    kernel = _first_kernel(model)
    kernel.assign(kernel * 2.0)

    second = cache.get(data)
    assert second is not first
    assert not np.allclose(first.validation_features, second.validation_features, rtol=1e-3, atol=0)


def test_examples_digest_ignores_order_but_not_content():
    data = tiny_image_data(n=8)
    shuffled = data.train  # reshuffled on each pass
    assert examples_digest(shuffled) == examples_digest(shuffled) == examples_digest(data.validation)
    other = tiny_image_data(n=8, seed=1)
    assert examples_digest(other.validation) != examples_digest(data.validation)


def test_disk_cache_is_reused_for_the_same_weights_and_data(tmp_path):
    model = _model()
    data = tiny_image_data(n=8)
    first = FeatureCache(model, cache_dir=tmp_path).get(data)

    again = FeatureCache(model, cache_dir=tmp_path).get(data)

    assert (first.origin, again.origin) == ("computed", "disk")
    np.testing.assert_array_equal(np.sort(first.train_features, axis=0), np.sort(again.train_features, axis=0))
    assert [p.name for p in tmp_path.iterdir()] == [next(tmp_path.iterdir()).name]  # no partial folder left


@pytest.mark.parametrize("change", ["weights", "data", "image_size"])
def test_disk_cache_is_never_used_for_other_weights_data_or_preprocessing(tmp_path, change):
    model = _model()
    data = tiny_image_data(n=8)
    FeatureCache(model, cache_dir=tmp_path).get(data)
    if change == "weights":
        kernel = _first_kernel(model)
        kernel.assign(kernel + 0.01)
    elif change == "data":
        data = tiny_image_data(n=8, seed=5)
    else:
        config = ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=40, dropout=0.0)
        fresh = build_model(config, ["dark", "bright"])
        fresh.backbone.set_weights(model.backbone.get_weights())
        model = fresh

    again = FeatureCache(model, cache_dir=tmp_path).get(data)

    assert again.origin == "computed"
    if change == "data":  # the same weights: the new examples join their store as a second part
        [store] = tmp_path.iterdir()
        assert len(list(store.glob("part-*.npz"))) == 2
    else:
        assert len(list(tmp_path.iterdir())) == 2


def _split(images, labels, train, held_out):
    """A `types.SimpleNamespace` data set of two splits: example ids `train` and `held_out`."""

    def pipeline(ids):
        inputs = {"images": images[ids]}
        return tf.data.Dataset.from_tensor_slices((inputs, labels[ids].astype("int32"))).batch(4)

    return types.SimpleNamespace(train=pipeline(train), validation=pipeline(held_out))


def _part_sizes(folder):
    [store] = folder.iterdir()
    sizes = []
    for part in sorted(store.glob("part-*.npz"), key=lambda p: p.stat().st_mtime_ns):
        with np.load(part) as loaded:
            sizes.append(len(loaded["keys"]))
    return sizes


def test_folds_of_one_data_set_compute_each_example_once(tmp_path):
    # Two folds of a cross-validation: the second's training part is the first's
    # held-out part plus half its training part, so nothing is new to the backbone.
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (12, 32, 32, 3)).astype("float32")
    labels = np.arange(12) % 2
    model = _model()
    first = FeatureCache(model, cache_dir=tmp_path).get(_split(images, labels, np.arange(8), np.arange(8, 12)))
    fold = _split(images, labels, np.r_[8:12, 0:4], np.arange(4, 8))

    second = FeatureCache(model, cache_dir=tmp_path).get(fold)

    assert (first.origin, second.origin) == ("computed", "disk")
    assert _part_sizes(tmp_path) == [12]
    fresh = FeatureCache(model).get(fold)  # in memory: every example through the backbone
    np.testing.assert_allclose(second.train_features, fresh.train_features, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(second.train_labels, fresh.train_labels)
    np.testing.assert_allclose(second.validation_features, fresh.validation_features, rtol=1e-5, atol=1e-6)


def test_a_data_set_with_new_examples_computes_only_those(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (14, 32, 32, 3)).astype("float32")
    labels = np.arange(14) % 2
    model = _model()
    FeatureCache(model, cache_dir=tmp_path).get(_split(images, labels, np.arange(6), np.arange(6, 10)))
    grown = _split(images, labels, np.r_[0:6, 10:14], np.arange(6, 10))  # 4 new training examples

    again = FeatureCache(model, cache_dir=tmp_path).get(grown)

    assert again.origin == "disk and computed"
    assert _part_sizes(tmp_path) == [10, 4]
    fresh = FeatureCache(model).get(grown)
    np.testing.assert_allclose(again.train_features, fresh.train_features, rtol=1e-5, atol=1e-6)
    # After the weights change, nothing of the old store is used.
    kernel = _first_kernel(model)
    kernel.assign(kernel * 1.5)
    assert FeatureCache(model, cache_dir=tmp_path).get(grown).origin == "computed"


def test_a_later_head_stage_after_fine_tuning_uses_the_new_features():
    model = _model()
    data = tiny_image_data()
    stages = [Stage("none", epochs=1), Stage("all", epochs=1, learning_rate=1e-2), Stage("none", epochs=1)]

    history = fit_stages(model, data, stages, verbose=0)

    cached = FeatureCache(model).get(data)
    from_head = model.head_model()(cached.validation_features, training=False)
    np.testing.assert_allclose(np.asarray(from_head), model.predict({"images": data.images}, verbose=0), atol=1e-5)
    assert [r.feature_seconds is not None for r in history.stages] == [True, False, True]


def test_an_empty_data_set_gives_a_clear_error():
    empty = tiny_image_data(n=8)
    empty.train = empty.train.take(0)
    with pytest.raises(ValueError, match="The data set is empty"):
        FeatureCache(_model()).get(empty)


def test_mixed_precision_features_are_cached_as_float32():
    config = ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, mixed_precision="mixed_bfloat16")
    model = build_model(config, ["dark", "bright"])
    cached = FeatureCache(model).get(tiny_image_data(n=8))
    assert cached.train_features.dtype == np.float32
    assert keras.config.dtype_policy().name == "float32"
    assert tf.as_dtype(model.backbone.layers[2].compute_dtype) == tf.bfloat16


def test_the_cached_training_order_does_not_depend_on_the_pass_that_computed_it():
    # A shuffled pipeline's order follows a global pass counter, which the
    # prefetching of unfinished passes advances at times that vary from run to
    # run; the head's training order is drawn from the cache's, so the cache
    # keeps one order whatever the counter says.
    from tfl.data import from_arrays
    from tfl.data.order import set_epoch

    rng = np.random.default_rng(0)
    data = from_arrays(rng.uniform(0, 255, (12, 8, 8, 3)).astype("float32"), np.arange(12) % 2,
                       image_size=(32, 32), class_names=["dark", "bright"], batch_size=4, seed=0)
    model = _model()
    orders = []
    for epoch in (0, 5):
        set_epoch(epoch)
        orders.append([tuple(b[1].numpy()) for b in data.train])  # the pipeline's own order moves ...
        set_epoch(epoch)
        orders.append(FeatureCache(model).get(data))
    assert orders[0] != orders[2]
    np.testing.assert_array_equal(orders[1].train_features, orders[3].train_features)  # ... the cache's does not
    np.testing.assert_array_equal(orders[1].train_labels, orders[3].train_labels)


def test_each_stage_record_says_where_its_features_came_from(tmp_path):
    data = tiny_image_data(n=8)
    stages = [Stage("none", epochs=1), Stage("none", epochs=1)]
    keras.utils.set_random_seed(4)
    first = fit_stages(_model(), data, stages, cache_dir=tmp_path, verbose=0)
    keras.utils.set_random_seed(4)
    model = _model()  # the same backbone weights; Keras names its layers input_layer_1 ... this time
    again = fit_stages(model, data, stages[:1], cache_dir=tmp_path, verbose=0)
    assert [r.feature_origin for r in first.stages] == ["computed", "memory"]
    assert [r.feature_origin for r in again.stages] == ["disk"]
    record = fit_stages(model, data, [Stage("all", epochs=1)], verbose=0).stages[0]
    assert record.feature_origin is None  # the backbone trained: no cached features


def test_a_text_batched_with_other_padding_is_found_in_the_store(tmp_path):
    # A text pipeline pads each batch to its longest text (trim_padding), so a text
    # meets other padding in another fold or shuffle; its features are the same.
    from tests.text_fakes import tiny_encoder
    from tfl.model import TextClassifier

    encoder, preprocessor = tiny_encoder()
    model = TextClassifier(encoder, preprocessor, ["bad", "good"], encoder_name="tiny", pooling="mean")
    texts = ["great fun", "a bad movie", "the acting was really very great fun", "awful", "not fun", "good film"]
    labels = np.array([1, 0, 1, 0, 0, 1], "int32")
    tokens = {k: np.asarray(v) for k, v in preprocessor(tf.constant(texts)).items()}
    spec = ({k: tf.TensorSpec([None, None], tf.as_dtype(v.dtype)) for k, v in tokens.items()},
            tf.TensorSpec([None], tf.int32))

    def batches(groups):
        def generate():
            for ids in groups:
                length = int(tokens["padding_mask"][ids].sum(axis=1).max())
                yield {k: v[ids][:, :length] for k, v in tokens.items()}, labels[ids]

        return tf.data.Dataset.from_generator(generate, output_signature=spec)

    first = types.SimpleNamespace(train=batches([[0, 1], [3, 4]]), validation=batches([[2, 5]]))
    regrouped = types.SimpleNamespace(train=batches([[0, 2], [1, 3]]), validation=batches([[4, 5]]))
    FeatureCache(model, cache_dir=tmp_path).get(first)

    again = FeatureCache(model, cache_dir=tmp_path).get(regrouped)

    assert again.origin == "disk"  # "great fun" now padded to the long text's length, and so on
    fresh = FeatureCache(model).get(regrouped)
    np.testing.assert_allclose(again.train_features, fresh.train_features, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(again.validation_features, fresh.validation_features, rtol=1e-4, atol=1e-5)
