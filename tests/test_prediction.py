"""`tfl.predict`: class names and probabilities from files, arrays or strings, without the input dict."""

import numpy as np
import pytest
from PIL import Image

import tfl
from tests.small_backbone import SMALL_BACKBONE
from tfl.config import ModelConfig
from tfl.io import save_keras as save_model
from tfl.model import build_model

SMALL = dict(backbone=SMALL_BACKBONE, weights=None, image_size=32)


@pytest.fixture(scope="module")
def model():
    return build_model(ModelConfig(**SMALL), ["ant", "bee", "cat"])


def test_arrays_files_and_a_run_folder_give_the_models_own_probabilities(model, tmp_path):
    images = np.random.RandomState(0).randint(0, 256, (2, 32, 32, 3)).astype("uint8")
    paths = []
    for index, image in enumerate(images):
        paths.append(str(tmp_path / f"{index}.png"))
        Image.fromarray(image).save(paths[-1])
    save_model(model, tmp_path / "model.keras")
    expected = model.predict({"images": images.astype("float32")}, verbose=0)

    from_arrays = tfl.predict(model, images, top_k=2)
    from_files = tfl.predict(tmp_path, paths, top_k=2)  # the run folder's model.keras

    np.testing.assert_allclose(from_arrays.probabilities, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(from_files.probabilities, expected, rtol=1e-5, atol=1e-6)
    assert from_arrays.labels == [model.class_names[i] for i in expected.argmax(axis=1)]
    assert [name for name, _ in from_arrays.top_k[0]] == [model.class_names[i] for i in np.argsort(-expected[0])[:2]]


def test_one_image_array_is_a_batch_of_one(model):
    image = np.full((20, 30, 3), 128, "uint8")
    assert tfl.predict(model, image).probabilities.shape == (1, 3)


def test_bad_inputs_name_the_fix(model, tmp_path):
    with pytest.raises(ValueError, match=r"\[N, height, width, 3\].*Received: an array of shape \(4, 4\)"):
        tfl.predict(model, np.zeros((4, 4)))
    with pytest.raises(FileNotFoundError, match="No model at"):
        tfl.predict(tmp_path / "nothing", np.zeros((1, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"top_k must be a whole number >= 1\. Received: top_k=0"):
        tfl.predict(model, np.zeros((1, 8, 8, 3)), top_k=0)


def test_a_text_model_predicts_on_raw_strings():
    from tests.text_fakes import tiny_encoder
    from tfl.model import TextClassifier

    encoder, preprocessor = tiny_encoder()
    model = TextClassifier(encoder, preprocessor, ["bad", "good"], encoder_name="tiny")
    texts = ["the movie was great", "awful plot"]
    expected = model.predict(preprocessor(np.array(texts)), verbose=0)

    predictions = tfl.predict(model, texts)

    np.testing.assert_allclose(predictions.probabilities, expected, rtol=1e-5, atol=1e-6)
    assert tfl.predict(model, "the cat sat").probabilities.shape == (1, 2)


def test_a_fusion_of_text_branches_predicts_on_raw_strings():
    import tensorflow as tf

    from tests.text_fakes import tiny_encoder
    from tfl.model import FusionClassifier
    from tfl.model import text_branch

    branches = []
    for name in ("first", "second"):
        encoder, preprocessor = tiny_encoder(sequence_length=8, hidden_dim=8)
        encoder.name = f"{name}_bert"
        branches.append(text_branch(name, encoder, "tiny", preprocessor=preprocessor))
    model = FusionClassifier(branches, ["bad", "good"])
    expected = model.predict(dict(model.text_preprocessor(tf.constant(["a good film"]))), verbose=0)

    predictions = tfl.predict(model, ["a good film"])

    np.testing.assert_allclose(predictions.probabilities, expected, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def pair_model():
    from tests.text_fakes import tiny_encoder
    from tfl.model import TextClassifier

    encoder, preprocessor = tiny_encoder()
    return TextClassifier(encoder, preprocessor, ["bad", "good"], encoder_name="tiny", text_pairs=True)


def test_a_pair_model_predicts_on_text_pairs(pair_model):
    import tensorflow as tf

    first, second = ["the movie was great", "awful plot"], ["good film", "a bad movie"]
    expected = pair_model.predict(pair_model.preprocessor(x=(tf.constant(first), tf.constant(second))), verbose=0)

    predictions = tfl.predict(pair_model, list(zip(first, second)))

    np.testing.assert_allclose(predictions.probabilities, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "inputs, message",
    [
        pytest.param(["good film", "awful plot"], r"reads sentence pairs.*Received: 'good film' \(inputs\[0\]\)",
                     id="single_texts"),
        pytest.param([("good film", "fine"), "ab"], r"reads sentence pairs.*Received: 'ab' \(inputs\[1\]\)",
                     id="a_string_among_pairs"),
        pytest.param([("good film", "fine", "too")], r"reads sentence pairs.*\('good film', 'fine', 'too'\)",
                     id="three_texts"),
    ],
)
def test_a_pair_model_refuses_anything_but_pairs_naming_the_input(pair_model, inputs, message):
    with pytest.raises(ValueError, match=message) as error:
        tfl.predict(pair_model, inputs)
    assert "(text, text_pair) tuples" in str(error.value)


def test_a_single_text_model_refuses_pairs_naming_the_input():
    from tests.text_fakes import tiny_encoder
    from tfl.model import TextClassifier

    encoder, preprocessor = tiny_encoder()
    model = TextClassifier(encoder, preprocessor, ["bad", "good"], encoder_name="tiny")
    with pytest.raises(ValueError, match=r"reads single texts.*Received: \('good film', 'fine'\) \(inputs\[1\]\)"):
        tfl.predict(model, ["awful plot", ("good film", "fine")])
