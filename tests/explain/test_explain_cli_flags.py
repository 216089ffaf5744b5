"""`tfl explain` names the flags the user typed (not `explain`'s Python parameters) when one
does not fit the model, before anything is written."""

import os
import pathlib
import re

import keras
import numpy as np
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tests.text_fakes import tiny_encoder
from tfl.cli.main import main
from tfl.config import ModelConfig
from tfl.io import save_keras
from tfl.model import TextClassifier
from tfl.model import build_model


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("image_model")
    keras.utils.set_random_seed(0)
    save_keras(build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), ["ants", "bees"]),
               root / "model.keras")
    photo = root / "ant.png"
    keras.utils.save_img(photo, np.random.default_rng(0).integers(0, 255, (40, 48, 3)).astype("uint8"))
    return str(root / "model.keras"), str(photo)


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("text_model") / "model.keras"
    keras.utils.set_random_seed(0)
    encoder, preprocessor = tiny_encoder()
    save_keras(TextClassifier(encoder, preprocessor, ["neg", "pos"], encoder_name="tiny"), path)
    return str(path)


def _refused(arguments, tmp_path, capsys):
    output = tmp_path / "out"
    assert main(["explain", *arguments, "--output", str(output)]) == 2
    assert not output.exists()
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--steps", "16"], "--steps applies to text models .* Leave out --steps."),
        (["--baseline", "mask"], "--baseline applies to text models .* Leave out --baseline."),
        (["--class-name", "wasps"], "Unknown class 'wasps'. Known: ants, bees .*leave out --class-name.* "
                                    "Received: --class-name wasps"),
        (["--class-name", "2"], "Unknown class '2'. .*indices 0 to 1.* Received: --class-name 2"),
        (["--layer", "stride32_con"], "Unknown layer 'stride32_con'.*Close layer names: stride32_conv.*"
                                      "or leave out --layer for the last feature map. Received: --layer stride32_con"),
    ],
    ids=["steps", "baseline", "class name", "class index", "layer"],
)
def test_a_flag_that_does_not_fit_an_image_model_is_named_as_typed(image_model, tmp_path, capsys, flags, message):
    model, photo = image_model
    error = _refused([model, photo, *flags], tmp_path, capsys)
    assert re.search(message, error), error
    assert "class_name=" not in error and "layer=" not in error and "None" not in error


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--layer", "stride16"], "--layer applies to image models.* Leave out --layer. Received: --layer stride16"),
        (["--steps", "0"], "--steps is integrated gradients' number of steps, a whole number from 1 to 512.* "
                           "Received: --steps 0"),
    ],
    ids=["layer", "steps"],
)
def test_a_flag_that_does_not_fit_a_text_model_is_named_as_typed(text_model, tmp_path, capsys, flags, message):
    error = _refused([text_model, "a lovely film", *flags], tmp_path, capsys)
    assert re.search(message, error), error
    assert "steps=" not in error and "layer=" not in error


def test_the_flags_that_fit_still_explain(image_model, text_model, tmp_path):
    model, photo = image_model
    assert main(["explain", model, photo, "--output", str(tmp_path / "image"), "--class-name", "1",
                 "--layer", "stride16"]) == 0
    assert main(["explain", text_model, "a lovely film", "--output", str(tmp_path / "text"), "--steps", "4",
                 "--baseline", "mask"]) == 0
    assert (tmp_path / "image" / "ant.png").exists() and (tmp_path / "text" / "explanations.html").exists()


def test_each_image_gets_its_own_overlay_even_when_a_file_is_named_like_anothers_suffix(image_model, tmp_path):
    import json

    model, photo = image_model
    files = []
    for folder, name in (("c", "ant_2.png"), ("a", "ant.png"), ("b", "ant.png")):  # the third would be ant_2.png
        (tmp_path / folder).mkdir()
        target = tmp_path / folder / name
        target.write_bytes(pathlib.Path(photo).read_bytes())
        files.append(str(target))
    output = tmp_path / "out"
    assert main(["explain", model, *files, "--output", str(output)]) == 0
    rows = json.loads((output / "explanations.json").read_text())["inputs"]
    written = [row["file"] for row in rows]
    assert len(set(written)) == 3 and all(os.path.exists(file) for file in written)
    assert sorted(os.listdir(output)) == sorted([os.path.basename(file) for file in written] + ["explanations.json"])
