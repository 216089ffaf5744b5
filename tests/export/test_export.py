"""Exports load without tfl, in TF Serving's C++ loader too, and answer like the Keras model."""

import io
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.small_backbone import SMALL_BACKBONE
from tests.text_fakes import tiny_encoder_folder
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data import load_images
from tfl.export import check_export
from tfl.export import export_model
from tfl.export import versions
from tfl.export.export import weights_bytes
from tfl.export.signatures import image_signatures
from tfl.model import ImageClassifier
from tfl.model import build_model
from tfl.train import fit_stages

SERVING_PROCESS = str(pathlib.Path(__file__).with_name("serving_process.py"))
SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")


def _serve(export_dir, signature, inputs, batch_sizes, tmp_path, text=False):
    """The signature's outputs per batch size, computed in a fresh process."""
    inputs_path, outputs_path = tmp_path / "inputs.npz", tmp_path / "outputs.npz"
    np.savez(inputs_path, batch_sizes=np.array(batch_sizes), **inputs)
    command = [sys.executable, SERVING_PROCESS, export_dir, signature, str(inputs_path), str(outputs_path)]
    subprocess.run(command + (["--text"] if text else []), check=True, capture_output=True, timeout=300)
    outputs = dict(np.load(outputs_path))
    assert list(outputs.pop("imported")) == ["none"]  # neither tfl nor keras_hub
    return outputs


@pytest.fixture(scope="module")
def image_model():
    """The tests' small network trained a little (BatchNorm statistics recomputed), so
    its outputs depend on the image."""
    keras.utils.set_random_seed(0)
    data = tiny_image_data(n=16, size=32)
    model = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), ["dark", "bright"])
    fit_stages(model, data, [Stage("all", epochs=1, learning_rate=1e-3, train_batchnorm=True)], verbose=0)
    return model


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    """PNG and JPEG files of several sizes, colour and grey."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths = []
    for i, (height, width, channels, encode) in enumerate([
        (32, 32, 3, tf.io.encode_png), (50, 20, 3, tf.io.encode_png), (17, 64, 1, tf.io.encode_png),
        (40, 40, 3, tf.io.encode_jpeg), (24, 30, 1, tf.io.encode_jpeg),
    ]):
        pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
        path = root / f"{i}.{'png' if encode is tf.io.encode_png else 'jpg'}"
        path.write_bytes(encode(pixels).numpy())
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def image_export(image_model, tmp_path_factory):
    base = tmp_path_factory.mktemp("saved_models")
    return export_model(image_model, "digits", base=str(base))


def test_image_bytes_answer_like_the_keras_model_at_two_batch_sizes(image_model, image_export, image_files, tmp_path):
    expected = image_model.predict({"images": load_images(image_files, (32, 32))}, verbose=0)
    assert expected.std(axis=0).max() > 1e-4  # the outputs depend on the image
    contents = np.array([pathlib.Path(p).read_bytes() for p in image_files], dtype=bytes)
    outputs = _serve(image_export.path, "serving_default", {"images": contents}, [1, 5], tmp_path)
    for size in (1, 5):
        np.testing.assert_allclose(outputs[f"{size}/probabilities"], expected[:size], atol=1e-5)
    np.testing.assert_array_equal(outputs["5/class_ids"][:, 0], expected.argmax(axis=1))
    names = np.array(["dark", "bright"])
    np.testing.assert_array_equal(outputs["5/class_names"], names[outputs["5/class_ids"]])
    np.testing.assert_allclose(outputs["5/scores"][:, 0], expected.max(axis=1), atol=1e-5)


@pytest.fixture(scope="module")
def served_signatures(image_export):
    return tf.saved_model.load(image_export.path).signatures


def _blocks(height, width, channels, seed):
    """Random flat 8x8 blocks of mid values (the model's outputs are not saturated).

    Cropped at an even offset and halved in size, every output pixel is the mean
    of 4 equal values: the data pipeline's rounding to uint8 changes nothing, so
    both signatures must see the very same pixels.
    """
    blocks = np.random.default_rng(seed).integers(96, 160, (height // 8, width // 8, channels), dtype=np.uint8)
    return np.repeat(np.repeat(blocks, 8, axis=0), 8, axis=1)


CROPPED = {
    "wide_png": (_blocks(64, 128, 3, 0), tf.io.encode_png),
    "tall_png": (_blocks(128, 64, 3, 1), tf.io.encode_png),
    "off_ratio_grey_png": (_blocks(64, 104, 1, 2)[:, :100], tf.io.encode_png),  # cropped from column 18
    "wide_grey_jpeg": (_blocks(64, 128, 1, 3), lambda x: tf.io.encode_jpeg(x, quality=100)),
}


@pytest.mark.parametrize("case", CROPPED.values(), ids=CROPPED.keys())
def test_image_bytes_are_cropped_as_the_model_crops_raw_pixels(image_model, served_signatures, case):
    # serving_default crops in the data pipeline's decode, serving_pixels in the model's
    # Resizing layer: both centre-crop by one rule, so a client may send either.
    pixels, encode = case
    contents = encode(pixels).numpy()
    decoded = tf.cast(tf.io.decode_image(contents, channels=3), tf.float32)[None]  # what a client holds
    stretched = tf.image.resize(decoded, image_model.image_size)  # the same image, aspect ratio lost

    from_bytes = served_signatures["serving_default"](images=tf.constant([contents]))["probabilities"].numpy()
    from_pixels = served_signatures["serving_pixels"](images=decoded)["probabilities"].numpy()
    from_stretched = served_signatures["serving_pixels"](images=stretched)["probabilities"].numpy()

    assert image_model.resize == "crop"
    np.testing.assert_allclose(from_bytes, from_pixels, atol=1e-5)
    assert np.abs(from_bytes - from_stretched).max() > 2e-4  # stretching would not agree (20x that tolerance)


@pytest.mark.parametrize("resize", ["crop", "stretch"])
def test_the_bytes_signature_resizes_by_the_models_resize(image_model, resize):
    model = ImageClassifier.from_config(dict(image_model.get_config(), resize=resize))
    model.set_weights(image_model.get_weights())
    pixels = _blocks(64, 128, 3, 0)  # stretched 4x narrower and 2x lower: exact integers too

    from_bytes = image_signatures(model)["serving_default"](tf.constant([tf.io.encode_png(pixels).numpy()]))
    expected = model({"images": pixels[None].astype("float32")}, training=False)

    np.testing.assert_allclose(from_bytes["probabilities"], expected, atol=1e-4)


def test_float_pixels_signature(image_model, image_export, tmp_path):
    pixels = np.random.default_rng(1).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    outputs = _serve(image_export.path, "serving_pixels", {"images": pixels}, [3], tmp_path)
    np.testing.assert_allclose(
        outputs["3/probabilities"], image_model.predict({"images": pixels}, verbose=0), atol=1e-5
    )


def test_weights_are_stored_once(image_model, image_export):
    variables = os.path.join(image_export.path, "variables", "variables.data-00000-of-00001")
    assert image_export.weights_bytes == weights_bytes(image_model)
    # The weights, once, and a few KB of names and shapes (a second copy would double the file).
    overhead = os.path.getsize(variables) - image_export.weights_bytes
    assert 0 <= overhead < max(0.01 * image_export.weights_bytes, 4096), overhead


def test_an_undecodable_image_names_its_position(image_export, image_files):
    function = tf.saved_model.load(image_export.path).signatures["serving_default"]
    good = pathlib.Path(image_files[0]).read_bytes()
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images\[1\] is not an encoded JPEG, PNG, BMP or GIF"):
        function(images=tf.constant([good, b"not an image", good]))


def _bmp(pixels, mode):
    """`pixels` (uint8 RGB) as the bytes of a BMP written by PIL in `mode`: "P" an 8-bit BMP with
    a colour palette, "L" an 8-bit grey one (palette: the grey ramp), "RGB" a 24-bit one."""
    from PIL import Image

    image = Image.fromarray(pixels)
    image = image.convert("P", palette=Image.ADAPTIVE, colors=4) if mode == "P" else image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, "BMP")
    return buffer.getvalue()


def _halves():
    """Left half red, right half blue: 4 palette colours reproduce it exactly."""
    pixels = np.zeros((32, 32, 3), np.uint8)
    pixels[:, :16], pixels[:, 16:] = (255, 0, 0), (0, 0, 255)
    return pixels


def test_an_8_bit_bmp_with_a_colour_palette_is_refused_naming_its_position(served_signatures, image_files):
    # TensorFlow decodes the palette indices as grey levels: red and blue became black.
    good = pathlib.Path(image_files[0]).read_bytes()
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images\[1\] is an 8-bit BMP with a colour palette"):
        served_signatures["serving_default"](images=tf.constant([good, _bmp(_halves(), "P"), good]))


@pytest.mark.parametrize("mode", ["L", "RGB"], ids=["grey_8_bit", "colour_24_bit"])
def test_bmps_tensorflow_decodes_rightly_are_served_like_their_pixels(served_signatures, mode):
    contents = _bmp(_halves(), mode)
    pixels = tf.cast(tf.io.decode_image(contents, channels=3), tf.float32)[None]
    from_bytes = served_signatures["serving_default"](images=tf.constant([contents]))["probabilities"]
    from_pixels = served_signatures["serving_pixels"](images=pixels)["probabilities"]
    np.testing.assert_allclose(from_bytes.numpy(), from_pixels.numpy(), atol=1e-4)


def test_an_empty_batch_gives_empty_outputs(image_export):
    function = tf.saved_model.load(image_export.path).signatures["serving_default"]
    outputs = function(images=tf.constant([], tf.string))
    assert outputs["probabilities"].shape == (0, 2) and outputs["class_names"].shape == (0, 2)


def test_saved_model_cli_shows_and_runs_the_export(image_export, tmp_path):
    shown = subprocess.run(
        [SAVED_MODEL_CLI, "show", "--all", "--dir", image_export.path], capture_output=True, text=True, check=True
    ).stdout
    assert "signature_def['serving_default']" in shown and "signature_def['serving_pixels']" in shown
    assert "inputs['images'] tensor_info:\n        dtype: DT_STRING" in shown
    for name in ("probabilities", "class_ids", "class_names", "scores"):
        assert f"outputs['{name}']" in shown
    pixels = tmp_path / "pixels.npy"
    np.save(pixels, np.full((2, 32, 32, 3), 100.0, np.float32))
    run = subprocess.run(
        [SAVED_MODEL_CLI, "run", "--dir", image_export.path, "--tag_set", "serve",
         "--signature_def", "serving_pixels", "--inputs", f"images={pixels}"],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Result for output key probabilities" in run.stdout


def test_a_predict_request_carries_the_signature_inputs(image_export, image_files):
    from tensorflow_serving.apis import predict_pb2

    function = tf.saved_model.load(image_export.path).signatures["serving_default"]
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "digits"
    request.model_spec.signature_name = "serving_default"
    contents = [pathlib.Path(p).read_bytes() for p in image_files[:2]]
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(contents, dtype=tf.string))
    assert set(request.inputs) == set(function.structured_input_signature[1])
    received = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
    assert function(**{k: tf.constant(v) for k, v in received.items()})["probabilities"].shape == (2, 2)


def test_versions_count_up_and_are_never_overwritten(image_model, tmp_path):
    first = export_model(image_model, "m", base=str(tmp_path))
    second = export_model(image_model, "m", base=str(tmp_path))
    assert (first.version, second.version) == (1, 2)
    with pytest.raises(FileExistsError, match=r"versions are never overwritten.*next free one \(3\)"):
        export_model(image_model, "m", base=str(tmp_path), version=2)
    assert export_model(image_model, "m", base=str(tmp_path), version=7).version == 7
    assert versions(tmp_path / "m") == [1, 2, 7]
    # no temporary folder left; the serving files describe the highest version
    assert sorted(os.listdir(tmp_path / "m")) == ["1", "2", "7", "README.md", "models.config", "requests"]
    assert "TF Serving serves the highest, **7**" in (tmp_path / "m" / "README.md").read_text()


@pytest.mark.parametrize("name", ["../escape", "a/b", "/abs", "", ".hidden", "sp ace", "x" * 200])
def test_names_that_could_leave_the_base_folder_are_refused(image_model, tmp_path, name):
    with pytest.raises(ValueError, match="is not allowed"):
        export_model(image_model, name, base=str(tmp_path))
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "version, top_k, error, message",
    [
        pytest.param(0, 5, ValueError, r"version \(--version with tfl export\) must be an int >= 1\. Received: version=0\. Pass 1 or more", id="version-0"),
        pytest.param(True, 5, ValueError, r"Received: version=True", id="version-bool"),
        pytest.param(None, 0, ValueError, r"top_k \(--top-k with tfl export\) must be an int >= 1 .*Received: top_k=0", id="top-k-0"),
        pytest.param(None, 2.0, ValueError, r"Received: top_k=2\.0", id="top-k-float"),
        pytest.param(1, 5, FileExistsError, r"m/1 exists: versions are never overwritten.*next free one \(2\)", id="existing"),
    ],
)
def test_check_export_refuses_before_anything_is_written(tmp_path, version, top_k, error, message):
    os.makedirs(tmp_path / "m" / "1")
    with pytest.raises(error, match=message):
        check_export("m", base=str(tmp_path), version=version, top_k=top_k)
    assert os.listdir(tmp_path / "m") == ["1"]


def test_check_export_gives_the_model_folder(tmp_path):
    assert check_export("m", base=str(tmp_path), version=3, top_k=1) == os.path.join(str(tmp_path), "m")
    assert not any(tmp_path.iterdir())


def test_only_tfl_classifiers_and_built_models_are_exported(tmp_path):
    with pytest.raises(ValueError, match="unbuilt layers"):
        export_model(keras.Sequential([keras.layers.Dense(2)]), "m", base=str(tmp_path))
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="Cannot export a Sequential"):
        export_model(plain, "m", base=str(tmp_path))
    assert not any(tmp_path.iterdir())  # refused before any folder is made


def test_a_fusion_model_with_a_text_branch_is_refused_with_what_to_do(tmp_path):
    from tests.text_fakes import tiny_encoder
    from tfl.model import FusionClassifier
    from tfl.model import cnn_branch
    from tfl.model import small_cnn
    from tfl.model import text_branch

    encoder, preprocessor = tiny_encoder(sequence_length=8, hidden_dim=8)
    model = FusionClassifier(
        [cnn_branch("image", small_cnn(16, (4,)), 16), text_branch("text", encoder, "tiny", preprocessor=preprocessor)],
        ["bad", "good"],
    )
    with pytest.raises(ValueError, match=r"task 'image_text'.*raw strings.*tfl.predict") as error:
        export_model(model, "m", base=str(tmp_path))
    assert "tfl.load_model('runs" not in str(error.value)  # not the advice for a plain Keras model
    assert not (tmp_path / "m").exists()


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    keras.utils.set_random_seed(0)
    folder = tiny_encoder_folder(tmp_path_factory.mktemp("encoder") / "tiny")
    return build_model(ModelConfig(encoder=folder, sequence_length=16), ["neg", "pos", "meh"], task="text")


TEXTS = np.array(["the cat sat on the mat", "", "a very good movie", "not fun at all, really boring"])


def test_text_strings_answer_like_the_keras_model_at_two_batch_sizes(text_model, tmp_path):
    result = export_model(text_model, "reviews", base=str(tmp_path / "saved_models"))
    assert result.signatures == ("serving_default",)
    expected = keras.ops.convert_to_numpy(text_model(text_model.preprocessor(tf.constant(TEXTS))))
    outputs = _serve(result.path, "serving_default", {"text": TEXTS}, [1, 4], tmp_path, text=True)
    for size in (1, 4):
        np.testing.assert_allclose(outputs[f"{size}/probabilities"], expected[:size], atol=1e-5)
    assert outputs["4/class_names"].shape == (4, 3)  # an empty string is answered too


def test_a_pair_model_serves_pairs_of_strings(tmp_path):
    folder = tiny_encoder_folder(tmp_path / "encoder")
    model = build_model(ModelConfig(encoder=folder, sequence_length=16), ["a", "b"], task="text", text_pairs=True)
    result = export_model(model, "pairs", base=str(tmp_path / "saved_models"))
    first, second = np.array(["the cat", "a dog"]), np.array(["sat on the mat", "was bad"])
    expected = keras.ops.convert_to_numpy(model(model.preprocessor(x=(tf.constant(first), tf.constant(second)))))
    outputs = _serve(result.path, "serving_default", {"text": first, "text_pair": second}, [2], tmp_path, text=True)
    np.testing.assert_allclose(outputs["2/probabilities"], expected, atol=1e-5)


UNEQUAL_PAIRS = """
import sys
import tensorflow as tf
import tensorflow_text  # noqa: F401

serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
for texts, pairs in [(1, 2), (2, 1), (3, 2)]:
    try:
        serve(text=tf.constant(["the cat"] * texts), text_pair=tf.constant(["sat on the mat"] * pairs))
        print(texts, pairs, "answered")
    except tf.errors.InvalidArgumentError as error:
        print(texts, pairs, "refused:", error.message.splitlines()[-1] if "assertion" not in error.message else
              next(line for line in error.message.splitlines() if "assertion failed" in line))
"""


def test_a_pair_export_refuses_batches_of_unequal_size(tmp_path):
    # Unchecked, the tokenizer's packer dropped the extra text_pair (1 vs 2), read token ids out
    # of range (2 vs 1), or aborted the process (3 vs 2): a fresh process keeps pytest alive.
    folder = tiny_encoder_folder(tmp_path / "encoder")
    model = build_model(ModelConfig(encoder=folder, sequence_length=16), ["a", "b"], task="text", text_pairs=True)
    result = export_model(model, "pairs", base=str(tmp_path / "saved_models"))
    process = subprocess.run(
        [sys.executable, "-c", UNEQUAL_PAIRS, result.path], capture_output=True, text=True, timeout=300
    )
    lines = process.stdout.splitlines()
    assert [line.split(" refused: ")[0] for line in lines] == ["1 2", "2 1", "3 2"], process.stderr[-2000:]
    for line, (texts, pairs) in zip(lines, [(1, 2), (2, 1), (3, 2)]):
        assert f"text holds {texts} strings and text_pair {pairs}: send one text_pair per text" in line


@pytest.mark.slow
def test_minilm_export_stores_its_weights_once_and_answers_like_keras(tmp_path):
    model = build_model(ModelConfig(encoder="all_minilm_l6_v2", sequence_length=64), ["neg", "pos"], task="text")
    result = export_model(model, "minilm", base=str(tmp_path / "saved_models"))
    assert result.weights_bytes > 80e6
    assert result.size_bytes < 1.06 * result.weights_bytes  # measured: +4.2% (graph and vocabulary)
    texts = np.array(["What a lovely day!", "My flight was cancelled again."])
    expected = keras.ops.convert_to_numpy(model(model.preprocessor(tf.constant(texts))))
    outputs = _serve(result.path, "serving_default", {"text": texts}, [1, 2], tmp_path, text=True)
    np.testing.assert_allclose(outputs["2/probabilities"], expected, atol=1e-5)


def test_a_text_model_loaded_from_a_keras_file_exports(text_model, tmp_path):
    from tfl.io import save_keras as save_model
    from tfl.model import load_model

    loaded = load_model(save_model(text_model, str(tmp_path / "text.keras")))
    result = export_model(loaded, "reloaded", base=str(tmp_path / "saved_models"))
    expected = keras.ops.convert_to_numpy(text_model(text_model.preprocessor(tf.constant(TEXTS))))
    outputs = _serve(result.path, "serving_default", {"text": TEXTS}, [4], tmp_path, text=True)
    np.testing.assert_allclose(outputs["4/probabilities"], expected, atol=1e-5)


def test_a_bfloat16_model_exports_and_answers_in_float32(tmp_path):
    model = build_model(
        ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, mixed_precision="mixed_bfloat16"),
        ["dark", "bright"],
    )
    assert model.backbone.compute_dtype == "bfloat16" and model.head.compute_dtype == "float32"
    result = export_model(model, "bf16", base=str(tmp_path))
    pixels = np.random.default_rng(2).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    served = tf.saved_model.load(result.path).signatures["serving_pixels"](images=tf.constant(pixels))
    assert served["probabilities"].dtype == tf.float32
    np.testing.assert_allclose(served["probabilities"].numpy(), model.predict({"images": pixels}, verbose=0), atol=1e-5)


def test_only_ascii_digit_folders_are_versions(tmp_path):
    for entry in ("1", "12", "²", "3a", "٣"):
        os.makedirs(tmp_path / "m" / entry)
    assert versions(tmp_path / "m") == [1, 12]


def test_a_version_another_export_wrote_meanwhile_is_kept_and_named(image_model, tmp_path, monkeypatch):
    from tfl.export import export as export_module

    real_write_folder = export_module.write_folder

    def racing_write_folder(path, write):  # another export publishes the same version first
        real_write_folder(path, lambda folder: os.makedirs(os.path.join(folder, "theirs")))
        return real_write_folder(path, write)

    monkeypatch.setattr(export_module, "write_folder", racing_write_folder)
    with pytest.raises(FileExistsError, match=r"Version 1 of .*m was written by another export while this one ran"):
        export_model(image_model, "m", base=str(tmp_path))
    assert os.listdir(tmp_path / "m" / "1") == ["theirs"]
    assert not [e for e in os.listdir(tmp_path / "m") if e.startswith(".")]
