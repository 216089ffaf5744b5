"""Grad-CAM and Grad-CAM++: against hand-computed maps, on tfl classifiers, in graph mode."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfl
from tfl.attribution import GradCam
from tfl.attribution import class_activation_maps
from tfl.attribution import grad_cam_model
from tfl.attribution import map_to_image
from tfl.backbones import build_backbone
from tfl.data.image.files import image_size_of
from tfl.model import ImageClassifier
from tfl.model import load_model


@pytest.fixture(scope="module")
def tiny():
    """inputs [6, 6, 3] -> conv (4 channels, the target) -> average pooling -> dense (3 classes),
    and the gradient of class c's score at the target: W[k, c] / 36 everywhere (hand-derived)."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 6, 3))
    feature_map = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="target")(inputs)
    scores = keras.layers.Dense(3, name="scores")(keras.layers.GlobalAveragePooling2D()(feature_map))
    model = keras.Model(inputs, [feature_map, scores])
    x = np.random.default_rng(0).normal(size=(5, 6, 6, 3)).astype("float32")
    maps, _ = model(x)
    return model, x, np.asarray(maps), np.asarray(model.get_layer("scores").kernel)


def _hand_gradients(maps, kernel, classes):
    return np.stack([np.broadcast_to(kernel[:, c] / 36.0, maps.shape[1:]) for c in classes])


def test_grad_cam_is_the_relu_of_the_channels_weighted_by_their_mean_gradient(tiny):
    model, x, maps, kernel = tiny
    classes = [0, 1, 2, 0, 1]
    gradients = _hand_gradients(maps, kernel, classes)
    weights = gradients.mean(axis=(1, 2))  # one number per channel
    expected = np.maximum(np.einsum("bhwk,bk->bhw", maps, weights), 0.0)
    result, _, chosen = GradCam(model)(x, classes)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-7)
    assert chosen.tolist() == classes
    assert expected.max() > 0 and (expected == 0).any()  # the ReLU mattered


def test_grad_cam_plus_plus_weighs_positive_gradients_by_the_second_and_third_powers(tiny):
    model, x, maps, kernel = tiny
    classes = [2] * 5
    g = _hand_gradients(maps, kernel, classes)
    denominator = 2 * g**2 + maps.sum(axis=(1, 2), keepdims=True) * g**3
    alphas = g**2 / np.where(denominator != 0, denominator, 1.0)
    weights = (alphas * np.maximum(g, 0)).sum(axis=(1, 2))
    expected = np.maximum(np.einsum("bhwk,bk->bhw", maps, weights), 0.0)
    result, _, _ = GradCam(model, "grad_cam_plus_plus")(x, classes)
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(class_activation_maps(maps, g, "grad_cam_plus_plus"), expected, rtol=1e-4, atol=1e-7)


def test_the_default_class_is_the_highest_score(tiny):
    model, x, _, _ = tiny
    _, scores, chosen = GradCam(model)(x)
    assert chosen.tolist() == scores.argmax(axis=1).tolist()


def test_two_batches_of_one_shape_trace_once(tiny):
    model, x, _, _ = tiny
    explainer = GradCam(model)
    explainer(x[:2], [0, 1])
    explainer(x[2:4], [2, -1])
    assert explainer.function.experimental_get_tracing_count() == 1


@pytest.mark.parametrize(
    "height, width, resize, box",
    [(40, 80, "crop", (0, 20, 40, 40)), (90, 30, "crop", (30, 0, 30, 30)), (40, 80, "stretch", (0, 0, 40, 80))],
    ids=["wide_crop", "tall_crop", "stretch"],
)
def test_maps_cover_what_the_model_saw_at_the_images_own_size(height, width, resize, box):
    heatmap = map_to_image(np.ones((4, 4)), height, width, (32, 32), resize)
    top, left, rows, columns = box
    assert heatmap.shape == (height, width)
    assert heatmap[top : top + rows, left : left + columns].min() == pytest.approx(1.0)
    assert heatmap.sum() == pytest.approx(rows * columns)


def test_maps_have_each_images_own_size_for_arrays_and_files(image_run, tmp_path):
    arrays = [image_run.images[0][:120, :180], image_run.images[1][:120, :180], image_run.images[2][:150, :90]]
    explanations = tfl.explain(image_run.model, arrays)
    assert [m.shape for m in explanations.maps] == [(120, 180), (120, 180), (150, 90)]
    assert explanations.inputs == ["array[0]", "array[1]", "array[2]"]
    paths = []
    for i, array in enumerate(arrays):
        paths.append(str(tmp_path / f"{i}.png"))
        tf.io.write_file(paths[-1], tf.io.encode_png(array.astype("uint8")))
    from_files = tfl.explain(image_run.model, paths)
    assert [m.shape for m in from_files.maps] == [(120, 180), (120, 180), (150, 90)]
    for heatmap in from_files.maps:
        assert heatmap.min() == 0.0 and 0.9 < heatmap.max() <= 1.0  # normalised, then resized
    assert from_files.maps[0][:, :30].max() == 0.0  # left of the centre crop the model saw
    photo = tfl.explain(image_run.model, image_run.inputs[:1]).maps[0]
    width, height = image_size_of(image_run.inputs[0])
    assert photo.shape == (height, width)  # the photo's own size, not 224 x 224


def test_a_class_by_name_or_index_is_the_same_and_none_is_the_predicted_one(image_run):
    model, images = image_run.model, image_run.images[[0, 1, 2, -1, -2, -3]]  # 3 ants, 3 bees
    by_name = tfl.explain(model, images, class_name="bees")
    by_index = tfl.explain(model, images, class_name=1)
    assert by_name.explained == ["bees"] * 6
    for a, b in zip(by_name.maps, by_index.maps):
        np.testing.assert_array_equal(a, b)
    default = tfl.explain(model, images)
    probabilities = model.predict({"images": images}, verbose=0)
    assert default.explained == [model.class_names[i] for i in probabilities.argmax(axis=1)]
    assert set(default.explained) == {"ants", "bees"}
    np.testing.assert_allclose(default.probabilities, probabilities.max(axis=1), rtol=1e-4)
    ants = tfl.explain(model, images, class_name="ants")
    assert not all(np.allclose(a, b) for a, b in zip(ants.maps, by_name.maps))  # another class, other maps


def test_a_multi_label_head_explains_any_class_with_its_sigmoid_probability(image_run):
    keras.utils.set_random_seed(0)
    backbone = image_run.model.backbone
    model = ImageClassifier(backbone, ["sky", "tree", "insect"], "mobilenet_025", (224, 224), multi_label=True)
    images = image_run.images[:3]
    explanations = tfl.explain(model, images, class_name="tree")
    probabilities = model.predict({"images": images}, verbose=0)
    np.testing.assert_allclose(explanations.probabilities, probabilities[:, 1], rtol=1e-4)
    scores = grad_cam_model(model)(images)[1]
    np.testing.assert_allclose(tf.sigmoid(scores), probabilities, rtol=1e-4)  # the logits themselves
    assert tfl.explain(model, images).explained == [model.class_names[i] for i in probabilities.argmax(axis=1)]


def test_a_model_loaded_from_keras_gives_the_same_maps(image_run, tmp_path):
    model = image_run.model
    model.save(tmp_path / "copy.keras")
    loaded = load_model(str(tmp_path / "copy.keras"))
    images = image_run.images[:6]
    original, again = tfl.explain(model, images), tfl.explain(loaded, images)
    assert max(m.max() for m in original.maps) > 0
    for a, b in zip(original.maps, again.maps):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert original.explained == again.explained


def test_a_stage_name_explains_that_stages_feature_map(image_run):
    explainer = grad_cam_model(image_run.model, "stride16")
    feature_map, _ = explainer(image_run.images[:1])
    assert explainer.target == "stride16 (conv_pw_11_relu)"
    assert feature_map.shape[1:3] == (14, 14)  # 224 / 16
    assert tfl.explain(image_run.model, image_run.inputs[:1], layer="conv_pw_11_relu").target == "conv_pw_11_relu"


@pytest.mark.parametrize("backbone_name", ["mobilenet_v2_035"])  # every backbone: bench/explain_sanity.py
def test_other_backbones_give_maps_at_their_last_feature_map(backbone_name):
    backbone = build_backbone(backbone_name, weights=None, image_size=64)
    model = ImageClassifier(backbone, ["a", "b"], backbone_name, (64, 64))
    explanations = tfl.explain(model, np.random.default_rng(0).uniform(0, 255, (2, 48, 80, 3)))
    assert [m.shape for m in explanations.maps] == [(48, 80), (48, 80)]
    assert explanations.target.endswith("(output)")


def test_top_losses_of_the_image_run_carry_a_heatmap_per_image(image_run):
    heatmaps = image_run.top_loss_heatmaps
    assert heatmaps is not None and len(heatmaps) == 9  # tfl train's default top losses
    assert heatmaps[0].shape == image_run.images.shape[1:3] and heatmaps.min() >= 0 and heatmaps.max() <= 1


def test_eager_and_graph_mode_give_the_same_maps(tiny):
    model, x, _, _ = tiny
    classes = [0, 1, 2, 0, 1]
    graph = GradCam(model, "grad_cam_plus_plus")(x, classes)
    eager = GradCam(model, "grad_cam_plus_plus", graph=False)(x, classes)
    for a, b in zip(graph, eager):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
