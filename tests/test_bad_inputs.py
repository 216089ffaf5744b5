"""Bad input, tried systematically: one case per row of docs/bad_inputs.md.

Every row is refused with an error that names the input and the fix, skipped
and counted where the user opted in (`skip_bad_files`), or converted as the
table says. The row ids here and in the table are checked to be the same.
"""

import logging
import pathlib
import re
import resource
import struct
import zipfile
import zlib

import numpy as np
import pytest

from tests.data import fakes
from tests.data import text_fakes
from tests.small_backbone import SMALL_BACKBONE
from tfl.backbones import WeightsUnavailableError
from tfl.backbones import build_backbone
from tfl.backbones import save_backbone
from tfl.cli.main import build_parser
from tfl.cli.train import config_from_args
from tfl.config import Config
from tfl.config import DataConfig
from tfl.data import from_arrays
from tfl.data import from_texts
from tfl.data import load_data
from tfl.data import load_text_data
from tfl.model import ModelFileError
from tfl.model import build_model
from tfl.model import load_model

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "bad_inputs.md"
SKIP_FIX = "skip_bad_files=True"


# ---- helpers ------------------------------------------------------------------------------


def _image_folder(root):
    """Two classes of 3 constant 4x4 PNGs (grey values 0..15) in `root`."""
    fakes.write_id_images(root, {"cats": 3, "dogs": 3})
    return root


def _load_images(root, **kwargs):
    return load_data(DataConfig(source=str(root), batch_size=8, **kwargs), image_size=8)


def _pixels_of(data):
    """Every image of both splits, by the pixel at (0, 0): {tuple(rgb): image}."""
    found = {}
    for dataset in (data.train, data.validation):
        for features, _ in dataset:
            for image in features["images"].numpy():
                found[tuple(int(v) for v in image[0, 0])] = image
    return found


def _refused_then_skipped(root, bad_name, reason, caplog):
    """A bad file in a class folder: an error naming it and the fix; with
    skip_bad_files, skipped, counted in `skipped_files` and logged."""
    with pytest.raises(ValueError) as error:
        _load_images(root)
    message = str(error.value)
    assert re.search(rf"{re.escape(bad_name)}: {reason}", message), message
    assert SKIP_FIX in message and "--skip-bad-files" in message and "Fix or delete them" in message

    with caplog.at_level(logging.WARNING, logger="tfl"):
        data = _load_images(root, skip_bad_files=True)
    assert [pathlib.Path(p).name for p in data.skipped_files] == [bad_name]
    assert data.num_train + data.num_validation == 6
    assert "Skipped 1 bad files of 7" in caplog.text and bad_name in caplog.text


def _png_header_only(width, height):
    """A PNG whose header declares width x height (8-bit grey) and whose data is a stub."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def _solid_grey_png(width, height, value):
    """A valid 8-bit grey PNG of one value, compressed row by row (never whole in memory)."""
    compressor = zlib.compressobj(9)
    row = b"\0" + bytes([value]) * width
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def _csv(tmp_path, rows, name="data.csv"):
    """A text,label CSV with `rows` plus 3 good rows of each of the classes a and b."""
    good = [f"the cat sat {i},{'ab'[i % 2]}" for i in range(6)]
    return text_fakes.write(tmp_path / name, "text,label\n" + "\n".join(good + rows) + "\n")


def _load_text(path, **kwargs):
    return load_text_data(DataConfig(source=str(path), batch_size=4, **kwargs), preprocessor=None)


def _text_row_refused_then_skipped(tmp_path, content, reason, caplog):
    path = tmp_path / "data.csv"
    good = "".join(f"the cat sat {i},{'ab'[i % 2]}\n" for i in range(6))
    text_fakes.write(path, b"text,label\n" + good.encode() + content + b"\n")
    with pytest.raises(ValueError) as error:
        _load_text(path)
    message = str(error.value)
    assert f"{path} line 8: {reason}" in message, message
    assert "skip_bad_rows=True" in message and "--skip-bad-files" in message

    with caplog.at_level(logging.WARNING, logger="tfl"):
        data = _load_text(path, skip_bad_files=True)
    assert len(data.skipped_rows) == 1 and reason in data.skipped_rows[0]
    assert data.num_train + data.num_validation == 6
    assert "Skipped 1 bad rows of 7" in caplog.text


def _yaml(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _rewrite_keras_file(source, target, change):
    """Copies a .keras zip, passing its config.json through `change(config)`."""
    import json

    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "config.json":
                config = json.loads(data)
                change(config)
                data = json.dumps(config).encode()
            zout.writestr(name, data)
    return target


# ---- one function per row of docs/bad_inputs.md ----------------------------------------------


def corrupt_image(tmp_path, caplog):
    root = _image_folder(tmp_path / "images")
    fakes.write(root / "cats" / "corrupt.png", fakes.png(fakes.noise(0))[:40] + b"\x13" * 400)
    _refused_then_skipped(root, "corrupt.png", "corrupt or truncated", caplog)


def truncated_image(tmp_path, caplog):
    root = _image_folder(tmp_path / "images")
    fakes.write(root / "dogs" / "cut.jpg", fakes.truncated(fakes.jpeg(fakes.noise(1, (32, 32, 3)))))
    _refused_then_skipped(root, "cut.jpg", "corrupt or truncated", caplog)


def zero_byte_file(tmp_path, caplog):
    root = _image_folder(tmp_path / "images")
    fakes.write(root / "cats" / "empty.jpg", b"")
    _refused_then_skipped(root, "empty.jpg", r"empty file \(0 bytes\)", caplog)


def non_image_file(tmp_path, caplog):
    root = _image_folder(tmp_path / "images")
    fakes.write(root / "cats" / "photo.jpg", b"<html>Sorry, this page moved</html>")
    _refused_then_skipped(root, "photo.jpg", "not an image: its first bytes", caplog)


def _one_odd_image(tmp_path, pixels, encode=fakes.png):
    """The folder plus one 8x8 image of `pixels` in cats/; returns the loaded data."""
    root = _image_folder(tmp_path / "images")
    fakes.write(root / "cats" / "odd.png", encode(pixels))
    data = _load_images(root)
    assert data.num_train + data.num_validation == 7 and data.skipped_files == ()
    return data


def grey_image(tmp_path, caplog):
    data = _one_odd_image(tmp_path, np.full((8, 8, 1), 200, np.uint8))
    image = _pixels_of(data)[(200, 200, 200)]  # grey repeated into R, G and B
    assert image.shape == (8, 8, 3) and (image == 200).all()


def grey_alpha_image(tmp_path, caplog):
    pixels = np.concatenate([np.full((8, 8, 1), 90, np.uint8), np.full((8, 8, 1), 7, np.uint8)], -1)
    image = _pixels_of(_one_odd_image(tmp_path, pixels))[(90, 90, 90)]  # alpha (7) dropped
    assert (image == 90).all()


def rgba_image(tmp_path, caplog):
    pixels = np.zeros((8, 8, 4), np.uint8) + np.array([200, 100, 50, 0], np.uint8)  # fully transparent
    image = _pixels_of(_one_odd_image(tmp_path, pixels))[(200, 100, 50)]  # alpha dropped, as PIL does
    assert (image == [200, 100, 50]).all()


def png_16bit(tmp_path, caplog):
    pixels = np.full((8, 8, 3), [255, 32767, 65535], np.uint16)
    image = _pixels_of(_one_odd_image(tmp_path, pixels))[(1, 127, 255)]  # v -> round(v / 257)
    assert (image == [1, 127, 255]).all()  # the high byte alone would give 0, 127, 255


def huge_image(tmp_path, caplog):
    root = _image_folder(tmp_path / "images")
    # 100 megapixels, 150 kB, wide: cropped to its centred 8000x8000 square (a slice) before resizing.
    fakes.write(root / "cats" / "huge.png", _solid_grey_png(12_500, 8_000, 222))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    data = _load_images(root)
    image = _pixels_of(data)[(222, 222, 222)]
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    assert image.shape == (8, 8, 3) and (image == 222).all()
    # Decoded at 1 byte a pixel (100 MB), plus the 64 MB crop; full-size float32 RGB copies would take 2.8 GB.
    assert grown < 600e6, f"peak memory grew by {grown / 1e6:.0f} MB"


def decompression_bomb(tmp_path, caplog):
    root = _image_folder(tmp_path / "images")
    fakes.write(root / "dogs" / "bomb.png", _png_header_only(50_000, 50_000))
    _refused_then_skipped(root, "bomb.png", r"too large: 50000x50000 pixels \(2500 megapixels\)", caplog)
    with pytest.raises(ValueError, match="downscale it, or raise the limit with TFL_MAX_IMAGE_PIXELS=2500000000"):
        _load_images(root)


def label_out_of_range(tmp_path, caplog):
    x = np.zeros((6, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match=r"Label 5 \(y\[5\]\) is outside 0\.\.2: class_names has 3 classes"):
        from_arrays(x, [0, 1, 2, 0, 1, 5], image_size=8, class_names=("a", "b", "c"))
    with pytest.raises(ValueError, match=r"texts\[5\]: label 5 is outside 0\.\.2; .*Fix the label"):
        from_texts(["the cat"] * 6, [0, 1, 2, 0, 1, 5], class_names=("a", "b", "c"), preprocessor=None)


def nan_label(tmp_path, caplog):
    x = np.zeros((6, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match=r"y holds NaN labels \(first at index 2\).*drop the unlabelled ones"):
        from_arrays(x, [0.0, 1.0, np.nan, 0.0, 1.0, 1.0], image_size=8)


def missing_label_text(tmp_path, caplog):
    _text_row_refused_then_skipped(tmp_path, b"the dog sat,", "missing label", caplog)


def single_class(tmp_path, caplog):
    root = tmp_path / "images"
    fakes.write_id_images(root, {"cats": 4})
    with pytest.raises(ValueError, match=r"one class folder \('cats'\).*Add a sub-folder of images for each"):
        _load_images(root)
    with pytest.raises(ValueError, match=r"data\.csv hold a single class \('a'\).*at least 2 classes"):
        _load_text(text_fakes.write(tmp_path / "data.csv", "text,label\n" + "the cat,a\n" * 4))


def empty_class_folder(tmp_path, caplog):
    root = _image_folder(tmp_path / "images")
    (root / "emus").mkdir()
    with pytest.raises(ValueError, match=r"Class folder 'emus' has no images.*Add images or remove the folder"):
        _load_images(root)


def no_validation_examples(tmp_path, caplog):
    root = tmp_path / "images"
    fakes.write_id_images(root, {"cats": 1, "dogs": 1})
    with pytest.raises(ValueError, match=r"No image is left for validation.*single image.*validation_path"):
        _load_images(root)
    path = text_fakes.write(tmp_path / "data.csv", "text,label\nthe cat,a\nthe dog,b\n")
    with pytest.raises(ValueError, match=r"No row is left for validation in .*data\.csv.*Add rows"):
        _load_text(path)


def empty_data_file(tmp_path, caplog):
    path = text_fakes.write(tmp_path / "data.csv", "text,label\n")
    with pytest.raises(ValueError, match=r"data\.csv holds no rows\. Give at least one text per class"):
        _load_text(path)
    with pytest.raises(ValueError, match=r"x is empty \(shape \(0, 8, 8, 3\)\)\. Give at least one image"):
        from_arrays(np.zeros((0, 8, 8, 3), np.uint8), [], image_size=8)


def empty_text(tmp_path, caplog):
    _text_row_refused_then_skipped(tmp_path, b'"",a', "empty text", caplog)


def whitespace_text(tmp_path, caplog):
    _text_row_refused_then_skipped(tmp_path, b"   \t ,b", "text is only whitespace", caplog)


def non_utf8_text(tmp_path, caplog):
    _text_row_refused_then_skipped(tmp_path, b"caf\xe9 au lait,a", r"text is not UTF-8 (byte 0xe9", caplog)


def very_long_text(tmp_path, caplog):
    long_text = text_fakes.words(33_000)  # 132,000 characters, more than csv's 131,072 per cell
    path = _csv(tmp_path, [f"{long_text},a"])
    config = DataConfig(source=path, batch_size=4)
    with caplog.at_level(logging.WARNING, logger="tfl"):
        data = load_text_data(config, preprocessor=text_fakes.preprocessor(16))
    assert data.num_train + data.num_validation == 7 and data.skipped_rows == ()
    assert sum(data.truncated.values()) == 1  # cut to sequence_length and counted
    assert "longer than sequence_length=16" in caplog.text and "raise model.sequence_length" in caplog.text


def unknown_config_key(tmp_path, caplog):
    path = _yaml(tmp_path, "train:\n  epoch: 3\n")
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: Unknown config key 'train\.epoch'\. Did you mean 'epochs'\?"):
        Config.from_yaml(path)


def wrong_config_type(tmp_path, caplog):
    path = _yaml(tmp_path, "data:\n  batch_size: many\n")
    with pytest.raises(ValueError, match=r"config\.yaml: data\.batch_size must be an integer\. Received: 'many'"):
        Config.from_yaml(path)


def negative_epochs(tmp_path, caplog):
    with pytest.raises(ValueError, match=r"config\.yaml: train: epochs must be >= 1\. Received: epochs=-2"):
        Config.from_yaml(_yaml(tmp_path, "train:\n  epochs: -2\n"))
    stage = "train:\n  stages:\n    - {unfreeze: none, epochs: -1, learning_rate: 0.001}\n"
    with pytest.raises(ValueError, match=r"config\.yaml: .*whole number of epochs >= 1\. Received: epochs=-1"):
        Config.from_yaml(_yaml(tmp_path, stage))


def bad_flag_value(tmp_path, caplog):
    for command in ("train", "cv", "tune"):
        args = build_parser().parse_args([command, "--data", "digits", "--adapt-alpha", "2", "--adapt", "mmd", "--target-data", "t/"])
        with pytest.raises(ValueError, match=r"^--adapt-alpha is a mixing weight in \[0, 1\]\. Received: --adapt-alpha 2$"):
            config_from_args(args)
    args = build_parser().parse_args(["train", "--data", "digits", "--augment", "flip,rotation=1.5"])
    with pytest.raises(ValueError, match=r"^--augment rotation is a fraction in \[0, 1\)\. Received: --augment rotation=1\.5$"):
        config_from_args(args)


def weights_of_another_backbone(tmp_path, caplog):
    path = save_backbone(build_backbone(SMALL_BACKBONE, weights=None, image_size=32), tmp_path / "m.weights.h5")
    with pytest.raises(WeightsUnavailableError) as error:
        build_backbone("mobilenet_v3_large", weights=path, image_size=32)
    message = str(error.value)
    assert str(path) in message and "does not hold weights of backbone 'mobilenet_v3_large'" in message
    assert "Pass a weights file written for this backbone" in message


def keras_file_from_another_tfl_version(tmp_path, caplog):
    model = build_model({"backbone": SMALL_BACKBONE, "weights": None, "image_size": 32}, ["a", "b"])
    model.save(tmp_path / "model.keras")
    assert list(load_model(tmp_path / "model.keras").class_names) == ["a", "b"]  # the same version loads

    def newer_class(config):
        config["class_name"], config["registered_name"] = "FutureClassifier", "tfl>FutureClassifier"
        config["config"]["tfl_version"] = "0.9.0"

    def newer_option(config):
        config["config"].update(tfl_version="0.9.0", head_layers=2)

    future = _rewrite_keras_file(tmp_path / "model.keras", tmp_path / "future.keras", newer_class)
    with pytest.raises(ModelFileError, match=r"future\.keras uses 'tfl>FutureClassifier'.*written by tfl 0\.9\.0") as error:
        load_model(future)
    assert "pip install tfl==0.9.0" in str(error.value) and "train the model again" in str(error.value)
    option = _rewrite_keras_file(tmp_path / "model.keras", tmp_path / "option.keras", newer_option)
    with pytest.raises(ModelFileError, match=r"tfl 0\.9\.0 with model options .* ImageClassifier\.head_layers"):
        load_model(option)  # Keras alone would drop the option silently


ROWS = {
    row.__name__: row
    for row in (
        corrupt_image,
        truncated_image,
        zero_byte_file,
        non_image_file,
        grey_image,
        grey_alpha_image,
        rgba_image,
        png_16bit,
        huge_image,
        decompression_bomb,
        label_out_of_range,
        nan_label,
        missing_label_text,
        single_class,
        empty_class_folder,
        no_validation_examples,
        empty_data_file,
        empty_text,
        whitespace_text,
        non_utf8_text,
        very_long_text,
        unknown_config_key,
        wrong_config_type,
        negative_epochs,
        bad_flag_value,
        weights_of_another_backbone,
        keras_file_from_another_tfl_version,
    )
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_bad_input(row, tmp_path, caplog):
    row(tmp_path, caplog)


def test_the_docs_table_has_one_row_per_case():
    ids = re.findall(r"^\| `([a-z0-9_]+)` \|", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert ids == list(ROWS)
