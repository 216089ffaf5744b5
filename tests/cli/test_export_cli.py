"""`tfl export` and `tfl serve-check`: versions, serving files, refusals, a TensorFlow-only check."""

import contextlib
import io
import json
import os

import keras
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tests.text_fakes import tiny_encoder_folder
from tfl.cli.main import main
from tfl.config import ModelConfig
from tfl.io import save_keras as save_model
from tfl.model import build_model


@pytest.fixture(scope="module")
def image_keras(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), ["a", "b", "c"])
    return save_model(model, str(tmp_path_factory.mktemp("image") / "model.keras"))


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """A run-like folder holding a text model's model.keras (as `tfl train` writes it)."""
    root = tmp_path_factory.mktemp("text")
    keras.utils.set_random_seed(0)
    folder = tiny_encoder_folder(root / "encoder")
    model = build_model(ModelConfig(encoder=folder, sequence_length=16), ["neg", "pos"], task="text")
    os.makedirs(root / "run")
    save_model(model, str(root / "run" / "model.keras"))
    return root / "run"


@pytest.fixture(scope="module")
def image_exports(image_keras, tmp_path_factory):
    """`tfl export` twice into one base: versions 1 and 2, and what each printed."""
    base = tmp_path_factory.mktemp("saved_models")
    outputs = []
    for _ in range(2):
        code, out = _run(["export", image_keras, "--name", "shapes", "--base", str(base), "--top-k", "2"])
        assert code == 0
        outputs.append(out)
    return base, outputs


def _run(argv):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(argv)
    return code, buffer.getvalue()


def test_export_writes_version_1_then_2_and_the_serving_files(image_exports):
    base, (first, second) = image_exports
    model_dir = base / "shapes"
    assert sorted(os.listdir(model_dir)) == ["1", "2", "README.md", "models.config", "requests"]
    assert f"to {model_dir}/1 (version 1)" in first and f"to {model_dir}/2 (version 2)" in second
    assert "Versions here: 1, 2. TF Serving serves the highest, **2**" in (model_dir / "README.md").read_text()
    assert sorted(os.listdir(model_dir / "requests")) == ["serving_default.json", "serving_pixels.json"]


def test_export_prints_sizes_signatures_and_the_docker_command(image_exports):
    base, (first, _) = image_exports
    assert " MB, weights " in first and "% of the weights)" in first
    assert "serving_default(images: string [None]) -> class_ids, class_names, probabilities, scores" in first
    assert "serving_pixels(images: float32 [None, None, None, 3])" in first
    command = f"docker run -p 8501:8501 --mount type=bind,source={base}/shapes,target=/models/shapes -e MODEL_NAME=shapes -t tensorflow/serving"
    assert command in first
    assert f"tfl serve-check {base}/shapes" in first


def test_top_k_reaches_the_signature(image_exports):
    base, _ = image_exports
    assert "| output | `class_ids` | int32 [None, 2] |" in (base / "shapes" / "README.md").read_text()


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "", ".hidden"])
def test_bad_names_are_refused_before_anything_is_written(image_keras, tmp_path, capsys, name):
    assert main(["export", image_keras, "--name", name, "--base", str(tmp_path / "saved_models")]) == 2
    err = capsys.readouterr().err
    assert "is not allowed" in err and "Traceback" not in err
    assert not os.path.exists(tmp_path / "saved_models") and os.listdir(tmp_path) == []


def test_an_existing_version_is_refused_and_left_untouched(image_exports, image_keras, capsys):
    base, _ = image_exports
    before = sorted(os.listdir(base / "shapes" / "1"))
    assert main(["export", image_keras, "--name", "shapes", "--base", str(base), "--version", "1"]) == 2
    err = capsys.readouterr().err
    assert f"{base}/shapes/1 exists: versions are never overwritten" in err and "Traceback" not in err
    assert "Pass another version (--version), or leave it out for the next free one (3)" in err
    assert sorted(os.listdir(base / "shapes" / "1")) == before


@pytest.mark.parametrize(
    "flags, message",
    [
        # Each names the flag the user typed, not only the Python parameter.
        pytest.param(["--version", "0"], "version (--version with tfl export) must be an int >= 1. Received: version=0", id="version-0"),
        pytest.param(
            ["--top-k", "0"],
            "top_k (--top-k with tfl export) must be an int >= 1 (how many classes the outputs rank). Received: top_k=0",
            id="top-k-0",
        ),
        pytest.param(["--name", "../x"], "Received: name='../x' (--name with tfl export)", id="name"),
    ],
)
def test_bad_numbers_are_refused(image_keras, tmp_path, capsys, flags, message):
    assert main(["export", image_keras, "--name", "m", "--base", str(tmp_path), *flags]) == 2  # a later --name wins
    assert message in capsys.readouterr().err


def test_a_missing_run_is_refused(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nothing"), "--name", "m", "--base", str(tmp_path / "saved_models")]) == 2
    assert "No model at" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "saved_models")


def test_serve_check_prints_the_image_answers_and_latencies(image_exports):
    base, _ = image_exports
    code, out = _run(["serve-check", str(base / "shapes")])
    assert code == 0
    assert f"{base}/shapes/2: loaded in" in out and "imported neither tfl nor KerasHub" in out
    assert "serving_default (" in out and "serving_pixels (" in out
    assert out.count("  [0] ") == 2 and out.count("  [1] ") == 2
    assert out.count("latency (median): batch 1 ") == 2 and "ms, batch 8 " in out


def test_serve_check_of_a_text_export_reports_json_without_tfl(text_run, tmp_path):
    base = tmp_path / "saved_models"
    code, out = _run(["export", str(text_run), "--name", "reviews", "--base", str(base)])
    assert code == 0 and "serving_default(text: string [None])" in out
    code, out = _run(["serve-check", str(base / "reviews"), "--version", "1", "--json"])
    assert code == 0
    report = json.loads(out)
    assert report["imported"] == [] and report["tensorflow_text"] is True
    (request,) = report["requests"]
    assert [sorted(p["class_names"]) for p in request["predictions"]] == [["neg", "pos"]] * 2
    assert set(request["latency_ms"]) == {"1", "8"}


@pytest.mark.parametrize(
    "entries, flags, message",
    [
        pytest.param(None, [], "No export folder", id="unknown-folder"),
        pytest.param([], [], "has no versions", id="no-versions"),
        pytest.param(["1"], ["--version", "3"], "has no version 3. Present: 1", id="no-such-version"),
    ],
)
def test_serve_check_refusals_exit_2(tmp_path, capsys, entries, flags, message):
    if entries is not None:
        os.makedirs(tmp_path / "m")
    for entry in entries or []:
        os.makedirs(tmp_path / "m" / entry)
    assert main(["serve-check", str(tmp_path / "m"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
