"""Serving files beside an export, and `serve_check` in a TensorFlow-only process."""

import base64
import json
import os
import pathlib

import keras
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from tests.small_backbone import SMALL_BACKBONE
from tests.text_fakes import tiny_encoder_folder
from tfl.config import ModelConfig
from tfl.export import ServeCheckError
from tfl.export import export_model
from tfl.export import read_signatures
from tfl.export import serve_check
from tfl.export import write_serving_files
from tfl.export.serve_check_worker import rest_to_tensors
from tfl.export.serving_files import Signature
from tfl.export.serving_files import TensorInfo
from tfl.export.serving_files import readme_text
from tfl.model import build_model

IMAGE_CLASSES = ["a", "b", "c"]


def _export(model, base, name):
    """`export_model` writes the serving files itself: they are `result.files`."""
    result = export_model(model, name, base=str(base))
    return result, os.path.join(str(base), name), result.files


@pytest.fixture(scope="module")
def image_export(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), IMAGE_CLASSES)
    return _export(model, tmp_path_factory.mktemp("saved_models"), "shapes")


@pytest.fixture(scope="module")
def encoder_folder(tmp_path_factory):
    return tiny_encoder_folder(tmp_path_factory.mktemp("encoder") / "tiny")


@pytest.fixture(scope="module")
def text_export(encoder_folder, tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(encoder=encoder_folder, sequence_length=16), ["neg", "pos"], task="text")
    return _export(model, tmp_path_factory.mktemp("saved_models"), "reviews")


@pytest.fixture(scope="module")
def pair_export(encoder_folder, tmp_path_factory):
    keras.utils.set_random_seed(0)
    config = ModelConfig(encoder=encoder_folder, sequence_length=16)
    model = build_model(config, ["same", "other"], task="text", text_pairs=True)
    return _export(model, tmp_path_factory.mktemp("saved_models"), "pairs")


@pytest.fixture(params=["image_export", "text_export", "pair_export"])
def export(request):
    return request.getfixturevalue(request.param)


def test_models_config_parses_as_a_tf_serving_model_server_config(export):
    _, model_dir, files = export
    name = os.path.basename(model_dir)
    with open(files.config) as f:
        config = text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())
    (entry,) = config.model_config_list.config
    assert (entry.name, entry.base_path, entry.model_platform) == (name, f"/models/{name}", "tensorflow")


def test_readme_has_the_docker_and_curl_commands_of_this_folder(export):
    _, model_dir, files = export
    name = os.path.basename(model_dir)
    readme = pathlib.Path(files.readme).read_text()
    mount = f"--mount type=bind,source={model_dir},target=/models/{name}"
    assert f"docker run -p 8501:8501 {mount} -e MODEL_NAME={name} -t tensorflow/serving" in readme
    assert f"{mount} -t tensorflow/serving --model_config_file=/models/{name}/models.config" in readme
    assert f"http://localhost:8501/v1/models/{name}:predict" in readme
    assert f'tf.saved_model.load("{model_dir}/1").signatures["serving_default"]' in readme


def test_a_relative_folder_is_mounted_from_the_working_directory(image_export, tmp_path, monkeypatch):
    result, _, _ = image_export
    os.makedirs(tmp_path / "saved_models" / "shapes")
    os.symlink(os.path.abspath(result.path), tmp_path / "saved_models" / "shapes" / "1")
    monkeypatch.chdir(tmp_path)
    files = write_serving_files(os.path.join("saved_models", "shapes"), "shapes")
    assert "source=$(pwd)/saved_models/shapes,target=/models/shapes" in files.docker_command
    assert files.docker_command in pathlib.Path(files.readme).read_text()
    # The class names come from the version itself (assets.extra/class_names.json), not from a caller.
    assert "A tfl image classifier, 3 classes: `a`, `b`, `c`;" in pathlib.Path(files.readme).read_text()


def test_readme_describes_the_signatures_read_from_the_saved_model(image_export):
    result, _, files = image_export
    readme = pathlib.Path(files.readme).read_text()
    assert "A tfl image classifier, 3 classes: `a`, `b`, `c`" in readme
    assert "### `serving_default`" in readme and "### `serving_pixels`" in readme
    assert "| input | `images` | string [None] |" in readme
    assert "| input | `images` | float32 [None, None, None, 3] |" in readme
    assert "| output | `class_names` | string [None, 3] |" in readme
    assert "tensorflow_text" not in readme
    assert list(read_signatures(result.path)) == ["serving_default", "serving_pixels"]


def test_readme_of_a_text_export_says_to_import_tensorflow_text_first(text_export):
    _, _, files = text_export
    readme = pathlib.Path(files.readme).read_text()
    assert "A tfl text classifier, 2 classes: `neg`, `pos`" in readme
    assert "| input | `text` | string [None] |" in readme
    assert "import tensorflow_text" in readme and "CaseFoldUTF8" in readme


@pytest.mark.parametrize(
    "which, signature, instance_type",
    [
        pytest.param("image_export", "serving_default", dict, id="image-bytes-b64"),
        pytest.param("image_export", "serving_pixels", list, id="image-pixels"),
        pytest.param("text_export", "serving_default", str, id="text"),
        pytest.param("pair_export", "serving_default", dict, id="text-pairs"),
    ],
)
def test_request_bodies_go_through_their_signature(request, which, signature, instance_type):
    result, _, files = request.getfixturevalue(which)
    with open(files.requests[signature]) as f:
        body = json.load(f)
    function = tf.saved_model.load(result.path).signatures[signature]
    specs = function.structured_input_signature[1]
    assert body["signature_name"] == signature and len(body["instances"]) == 2
    assert all(isinstance(instance, instance_type) for instance in body["instances"])
    if len(specs) > 1:
        assert all(set(instance) == set(specs) for instance in body["instances"])
    outputs = function(**rest_to_tensors(body, specs))
    assert outputs["probabilities"].shape[0] == 2
    assert set(outputs["class_names"].numpy().ravel()) <= {n.encode() for n in result_class_names(which)}


def result_class_names(which):
    return {"image_export": IMAGE_CLASSES, "text_export": ["neg", "pos"], "pair_export": ["same", "other"]}[which]


def test_image_request_bodies_are_png_files_in_b64(image_export):
    _, _, files = image_export
    with open(files.requests["serving_default"]) as f:
        body = json.load(f)
    for instance in body["instances"]:
        image = tf.io.decode_png(base64.b64decode(instance["b64"]))
        assert image.shape == (8, 8, 3)


@pytest.mark.parametrize(
    "body, expected",
    [
        pytest.param({"instances": ["x", "y"]}, {"text": [b"x", b"y"]}, id="rows-of-one-input"),
        pytest.param({"instances": [{"text": "x"}]}, {"text": [b"x"]}, id="rows-naming-the-input"),
        pytest.param({"instances": [{"b64": "eA=="}]}, {"text": [b"x"]}, id="rows-of-b64"),
        pytest.param({"inputs": ["x", "y"]}, {"text": [b"x", b"y"]}, id="columns-of-one-input"),
        pytest.param({"inputs": {"text": [{"b64": "eA=="}]}}, {"text": [b"x"]}, id="named-columns-of-b64"),
    ],
)
def test_rest_bodies_become_tensors_as_in_tf_serving(body, expected):
    tensors = rest_to_tensors(body, {"text": tf.TensorSpec([None], tf.string, name="text")})
    assert {name: t.numpy().tolist() for name, t in tensors.items()} == expected


def _outputs(top_k):
    return {
        "class_ids": TensorInfo("int32", (None, top_k)),
        "class_names": TensorInfo("string", (None, top_k)),
        "probabilities": TensorInfo("float32", (None, 3)),
        "scores": TensorInfo("float32", (None, top_k)),
    }


_IMAGE = {
    "serving_default": Signature("serving_default", {"images": TensorInfo("string", (None,))}, _outputs(2)),
    "serving_pixels": Signature("serving_pixels", {"images": TensorInfo("float32", (None, None, None, 3))}, _outputs(2)),
}
_TEXT = {"serving_default": Signature("serving_default", {"text": TensorInfo("string", (None,))}, _outputs(3))}
_PAIR_INPUTS = {"text": TensorInfo("string", (None,)), "text_pair": TensorInfo("string", (None,))}
_PAIR = {"serving_default": Signature("serving_default", _PAIR_INPUTS, _outputs(3))}


@pytest.mark.parametrize(
    "case, arguments",
    [
        pytest.param("image", ("saved_models/shapes", "shapes", 2, [1, 2], _IMAGE, [], ["a", "b", "c"]), id="image"),
        pytest.param("image_abs", ("/srv/models/shapes", "shapes", 4, [1, 4], _IMAGE, [], None), id="image-absolute"),
        pytest.param(
            "text",
            ("saved_models/reviews", "reviews", 1, [1], _TEXT, ["CaseFoldUTF8", "WordpieceTokenizeWithOffsets"], ["neg", "pos", "meh"]),
            id="text",
        ),
        pytest.param("pair", ("saved_models/pairs", "pairs", 1, [1], _PAIR, ["CaseFoldUTF8"], None), id="pair"),
    ],
)
def test_readme_text_is_the_text_before_its_split_into_sections(case, arguments):
    expected = json.loads((pathlib.Path(__file__).parent / "data" / "readme_text.json").read_text(encoding="utf-8"))
    assert readme_text(*arguments) == expected[case]


def test_rest_rows_of_two_inputs_and_of_floats():
    specs = {"text": tf.TensorSpec([None], tf.string), "text_pair": tf.TensorSpec([None], tf.string)}
    tensors = rest_to_tensors({"instances": [{"text": "a", "text_pair": "b"}]}, specs)
    assert tensors["text"].numpy().tolist() == [b"a"] and tensors["text_pair"].numpy().tolist() == [b"b"]
    pixels = rest_to_tensors({"instances": [[[[1, 2, 3]]]]}, {"images": tf.TensorSpec([None, None, None, 3], tf.float32)})
    assert pixels["images"].dtype == tf.float32 and pixels["images"].shape == (1, 1, 1, 3)


def test_files_describe_the_highest_version_and_keep_the_users_requests(image_export, tmp_path):
    # docs/serving.md: "Add your own bodies to requests/ to check them too"; the next export kept
    # none of them.
    result, _, _ = image_export
    copy = tmp_path / "shapes"
    os.makedirs(copy)
    os.symlink(os.path.abspath(result.path), copy / "1")
    os.symlink(os.path.abspath(result.path), copy / "4")
    os.makedirs(copy / "requests")
    (copy / "requests" / "photo.json").write_text('{"instances": [{"b64": "iVBORw0KGgo="}]}')
    files = write_serving_files(str(copy))
    assert files.version == 4
    assert sorted(os.listdir(copy / "requests")) == ["photo.json", "serving_default.json", "serving_pixels.json"]
    assert "Versions here: 1, 4. TF Serving serves the highest, **4**" in pathlib.Path(files.readme).read_text()
    assert not [f for f in os.listdir(copy) if f.endswith(".tmp")]


def test_the_body_of_a_signature_the_highest_version_lacks_is_removed(text_export, tmp_path):
    # An image version wrote serving_pixels.json; a text version above it has no such signature.
    result, _, _ = text_export
    copy = tmp_path / "reviews"
    os.makedirs(copy / "requests")
    os.symlink(os.path.abspath(result.path), copy / "2")
    (copy / "requests" / "serving_pixels.json").write_text('{"signature_name": "serving_pixels", "instances": []}')
    (copy / "requests" / "mine.json").write_text('{"instances": ["my own text"]}')
    write_serving_files(str(copy))
    assert sorted(os.listdir(copy / "requests")) == ["mine.json", "serving_default.json"]


def test_an_export_below_the_highest_version_leaves_the_readme_its_classes(image_export, tmp_path):
    # The README describes the highest version; exporting version 1 of another model must not
    # give version 2 that model's class names.
    result, _, _ = image_export
    os.makedirs(tmp_path / "shapes")
    os.symlink(os.path.abspath(result.path), tmp_path / "shapes" / "2")
    other = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), ["ant", "bee"])
    files = export_model(other, "shapes", base=str(tmp_path), version=1).files
    readme = pathlib.Path(files.readme).read_text()
    assert files.version == 2 and "TF Serving serves the highest, **2**" in readme
    assert "3 classes: `a`, `b`, `c`;" in readme and "`ant`" not in readme


@pytest.mark.parametrize(
    "make, name, error, message",
    [
        pytest.param(False, "x", FileNotFoundError, "No versions in", id="no-folder"),
        pytest.param(True, "x", FileNotFoundError, "No versions in", id="no-versions"),
        pytest.param(True, "../x", ValueError, "is not allowed", id="bad-name"),
    ],
)
def test_write_serving_files_refuses(tmp_path, make, name, error, message):
    if make:
        os.makedirs(tmp_path / "x")
    with pytest.raises(error, match=message):
        write_serving_files(str(tmp_path / "x"), name)


def test_serve_check_answers_the_image_requests_without_tfl(image_export):
    _, model_dir, _ = image_export
    report = serve_check(model_dir)
    assert report["imported"] == [] and report["tensorflow_text"] is False and report["version"] == 1
    assert report["request_bodies"] == "requests/"  # the highest version: the bodies tfl export wrote
    assert report["load_seconds"] > 0
    assert [r["signature_name"] for r in report["requests"]] == ["serving_default", "serving_pixels"]
    for request in report["requests"]:
        assert len(request["predictions"]) == 2
        assert sorted(request["predictions"][0]["class_names"]) == IMAGE_CLASSES
        assert set(request["latency_ms"]) == {"1", "8"} and min(request["latency_ms"].values()) > 0


def test_serve_check_imports_tensorflow_text_for_a_text_export_and_not_tfl(pair_export):
    _, model_dir, _ = pair_export
    report = serve_check(model_dir, version=1, batch_sizes=(1, 3), repeats=2)
    assert report["imported"] == [] and report["tensorflow_text"] is True
    assert "CaseFoldUTF8" in report["custom_ops"]
    (request,) = report["requests"]
    assert len(request["predictions"]) == 2 and set(request["latency_ms"]) == {"1", "3"}


def test_serve_check_names_an_undecodable_image(image_export, tmp_path):
    result, _, files = image_export
    copy = tmp_path / "shapes"
    os.makedirs(copy / "requests")
    os.symlink(os.path.abspath(result.path), copy / "1")
    with open(files.requests["serving_default"]) as f:
        good = json.load(f)["instances"][0]
    body = {"instances": [good, {"b64": base64.b64encode(b"not an image").decode()}]}
    (copy / "requests" / "bad.json").write_text(json.dumps(body))
    with pytest.raises(ServeCheckError, match=r"images\[1\] is not an encoded"):
        serve_check(str(copy))


@pytest.mark.parametrize(
    "layout, version, message",
    [
        pytest.param(None, None, "No export folder", id="no-folder"),
        pytest.param([], None, "has no versions", id="no-versions"),
        pytest.param(["1"], 2, "has no version 2. Present: 1", id="missing-version"),
        pytest.param(["1"], None, "No request bodies", id="no-requests"),
    ],
)
def test_serve_check_refuses_before_starting_a_process(tmp_path, layout, version, message):
    model_dir = tmp_path / "m"
    for entry in layout or []:
        os.makedirs(model_dir / entry)
    if layout is not None:
        os.makedirs(model_dir, exist_ok=True)
    with pytest.raises(FileNotFoundError, match=message):
        serve_check(str(model_dir), version)


def test_serve_check_of_an_older_version_sends_bodies_made_for_its_own_inputs(encoder_folder, tmp_path):
    keras.utils.set_random_seed(0)
    image = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), IMAGE_CLASSES)
    text = build_model(ModelConfig(encoder=encoder_folder, sequence_length=16), ["neg", "pos"], task="text")
    export_model(image, "switched", base=str(tmp_path))
    export_model(text, "switched", base=str(tmp_path))  # version 2: requests/ now holds text bodies
    model_dir = str(tmp_path / "switched")

    old = serve_check(model_dir, version=1, batch_sizes=(1,), repeats=1)

    assert old["request_bodies"] == "example requests made from version 1's signatures"
    assert [r["signature_name"] for r in old["requests"]] == ["serving_default", "serving_pixels"]
    assert sorted(old["requests"][0]["predictions"][0]["class_names"]) == IMAGE_CLASSES
    assert os.listdir(tmp_path / "switched" / "requests") == ["serving_default.json"]  # nothing written there


@pytest.mark.parametrize("multi_label", [False, True], ids=["single-label", "multi-label"])
def test_the_readme_says_how_a_multi_label_model_is_read(tmp_path, multi_label):
    keras.utils.set_random_seed(0)
    config = ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, multi_label=multi_label)
    result = export_model(build_model(config, IMAGE_CLASSES), "tags", base=str(tmp_path))

    readme = pathlib.Path(result.files.readme).read_text()
    assert ("**Multi-label.**" in readme) == multi_label
    if multi_label:
        assert "every class whose probability is at least 0.5" in readme
    stored = json.loads((pathlib.Path(result.path) / "assets.extra" / "outputs.json").read_text())
    assert stored == {"multi_label": multi_label, "threshold": 0.5}
