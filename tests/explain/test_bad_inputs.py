"""Bad input to `tfl.explain`: each refused with the value named and the fix (docs/explain.md)."""

import keras
import numpy as np
import pytest

import tfl
from tests.text_fakes import tiny_encoder
from tfl.backbones import build_backbone
from tfl.model import ImageClassifier


@pytest.fixture(scope="module")
def image_model():
    backbone = build_backbone("mobilenet_v3_small", weights=None, image_size=32)
    return ImageClassifier(backbone, ["cat", "dog"], "mobilenet_v3_small", (32, 32), name="pets")


@pytest.fixture(scope="module")
def text_model():
    keras.utils.set_random_seed(0)
    encoder, preprocessor = tiny_encoder()
    return tfl.TextClassifier(encoder, preprocessor, ["neg", "pos"], encoder_name="tiny", name="reviews")


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("photos") / "cat.png"
    keras.utils.save_img(path, np.zeros((8, 8, 3), "uint8"))
    return str(path)


def test_a_file_that_is_not_an_image(image_model, tmp_path, photo):
    page = tmp_path / "photo.jpg"
    page.write_text("<html>Some page</html>")
    with pytest.raises(ValueError, match=r"1 of the 2 inputs are not readable images:\n.*photo\.jpg: not an image") as error:
        tfl.explain(image_model, [photo, str(page)])
    assert "Give JPEG, PNG, GIF or BMP files" in str(error.value)


def test_texts_for_an_image_model(image_model):
    with pytest.raises(ValueError, match=r"Not an image file: 'what a lovely cat'\. 'pets' is an image model.*texts need a text model"):
        tfl.explain(image_model, ["what a lovely cat"])


@pytest.mark.parametrize("kind", ["array", "file"])
def test_images_for_a_text_model(text_model, photo, kind):
    images = np.zeros((2, 8, 8, 3)) if kind == "array" else [photo]
    with pytest.raises(ValueError, match=r"'reviews' is a text model.*images need an image model"):
        tfl.explain(text_model, images)


def test_sentence_pairs_for_a_text_model(text_model):
    with pytest.raises(ValueError, match=r"explain reads single texts; 'reviews' was given sentence pairs"):
        tfl.explain(text_model, [("a cat", "a dog")])


@pytest.mark.parametrize("class_name", ["emu", 2, -1, True])
def test_an_unknown_class(image_model, class_name):
    with pytest.raises(ValueError, match=rf"Unknown class {class_name!r}\. Known: cat, dog \(or indices 0 to 1\)"):
        tfl.explain(image_model, np.zeros((1, 32, 32, 3)), class_name=class_name)


def test_a_layer_the_backbone_does_not_have(image_model):
    with pytest.raises(ValueError, match=r"Unknown layer 'conv_99': mobilenet_v3_small has no such stage or layer\. "
                                         r"Stages: stem, stride8, stride16, stride32\. Close layer names: conv"):
        tfl.explain(image_model, np.zeros((1, 32, 32, 3)), layer="conv_99")


@pytest.mark.parametrize("which", ["image", "text"])
def test_an_empty_input_list(image_model, text_model, which):
    model = image_model if which == "image" else text_model
    with pytest.raises(ValueError, match=r"explain needs at least one input\. Received: inputs=\[\]"):
        tfl.explain(model, [])


@pytest.mark.parametrize(
    "which, method", [("image", "integrated_gradients"), ("text", "grad_cam"), ("image", "saliency")]
)
def test_a_method_of_the_other_task(image_model, text_model, which, method):
    model, inputs = (image_model, np.zeros((1, 32, 32, 3))) if which == "image" else (text_model, ["a cat"])
    with pytest.raises(ValueError, match=rf"Unknown method '{method}' for the {which} model .* Known for {which} models"):
        tfl.explain(model, inputs, method=method)


def test_an_image_option_for_a_text_model(text_model):
    with pytest.raises(ValueError, match=r"layer applies to image models; 'reviews' is a text model"):
        tfl.explain(text_model, ["a cat"], layer="stride16")


def test_a_fusion_model_is_refused_and_gets_no_top_loss_heatmaps():
    from tfl.explanation import heatmap_function
    from tfl.model import FusionClassifier
    from tfl.model import cnn_branch
    from tfl.model import small_cnn

    model = FusionClassifier(
        [cnn_branch("a", small_cnn(16, (4,), name="a_cnn"), 16), cnn_branch("b", small_cnn(16, (4,), name="b_cnn"), 16)],
        ["cat", "dog"], fusion="weighted", name="fused",
    )
    with pytest.raises(ValueError, match=r"explain explains an ImageClassifier or a TextClassifier; 'fused' is a FusionClassifier"):
        tfl.explain(model, np.zeros((1, 16, 16, 3)))
    assert heatmap_function(model) is None
    # explain's parts, called directly, refuse it by name too (not an AttributeError inside).
    with pytest.raises(ValueError, match=r"Grad-CAM explains an ImageClassifier; 'fused' is a FusionClassifier.*each branch"):
        tfl.attribution.grad_cam_model(model)
    with pytest.raises(ValueError, match=r"Token attributions explain a TextClassifier; 'fused' is a FusionClassifier"):
        tfl.attribution.TokenAttributor(model)


def _fusion(kinds):
    """A fusion model of two tiny branches of `kinds` ("image", "text"), named after them."""
    from tfl.model import FusionClassifier
    from tfl.model import cnn_branch
    from tfl.model import small_cnn
    from tfl.model import text_branch

    branches = []
    for i, kind in enumerate(kinds):
        if kind == "image":
            branches.append(cnn_branch(f"image{i}", small_cnn(16, (4,), name=f"image{i}_cnn"), 16))
            continue
        encoder, preprocessor = tiny_encoder(sequence_length=8, hidden_dim=8)
        encoder.name = f"text{i}_bert"
        branches.append(text_branch(f"text{i}", encoder, "tiny", preprocessor=preprocessor))
    return FusionClassifier(branches, ["neg", "pos"], name="_".join(kinds))


@pytest.mark.parametrize(
    "kinds, curves, message",
    [
        (("image", "text"), "image", r"image_deletion_curves takes a model that reads images alone.*'image_text'"),
        (("text", "text"), "image", r"'text_text' is a FusionClassifier of task 'text': use text_deletion_curves"),
        (("image", "text"), "text", r"text_deletion_curves takes a model that reads texts alone.*'image_text'"),
        (("image", "image"), "text", r"'image_image' is a FusionClassifier of task 'image': use image_deletion_curves"),
    ],
    ids=["image curves, image+text", "image curves, text only", "text curves, image+text", "text curves, images only"],
)
def test_deletion_curves_refuse_a_fusion_model_of_the_other_inputs_naming_it(kinds, curves, message):
    model = _fusion(kinds)
    with pytest.raises(ValueError, match=message):
        if curves == "image":
            tfl.attribution.image_deletion_curves(model, np.zeros((1, 16, 16, 3)), np.ones((1, 16, 16)), [0])
        else:
            tfl.attribution.text_deletion_curves(model, ["a good film"], [[0.1, 0.5, 0.2]], [1])


def test_deletion_curves_and_randomisation_work_on_a_fusion_of_one_kind_of_branch():
    images = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    model = _fusion(("image", "image"))
    kernel = model.stage_layers()["image1/block1"][0].kernel
    before = kernel.numpy()
    with tfl.attribution.randomized(model, ["image1/block1"], images=images):
        assert not np.allclose(kernel.numpy(), before)
    np.testing.assert_array_equal(kernel.numpy(), before)
    curves = tfl.attribution.image_deletion_curves(model, images, np.ones((2, 16, 16)), [0, 1], random_orders=1)
    assert curves["curve"].shape == (2, 9)
    curves = tfl.attribution.text_deletion_curves(_fusion(("text", "text")), ["a good film"], [[0.1, 0.5, 0.2]], [1],
                                                  random_orders=1)
    assert len(curves["curve"][0]) == 4


def test_randomisation_with_images_refuses_a_fusion_of_image_and_text_before_changing_a_weight():
    model = _fusion(("image", "text"))
    before = [w.numpy() for w in model.weights]
    with pytest.raises(ValueError, match=r"'image_text' is a fusion model of image and text branches.*images=None"):
        with tfl.attribution.randomized(model, ["image0/block1"], images=np.zeros((1, 16, 16, 3))):
            pass
    assert all(np.array_equal(w.numpy(), b) for w, b in zip(model.weights, before))
