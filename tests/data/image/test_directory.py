import collections
import logging
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.data import fakes
from tfl.data import ImageData
from tfl.data import ImageOptions
from tfl.data import from_directory
from tfl.data import from_directory_for_evaluation
from tfl.data.image.files import find_bad_files
from tfl.data.image.pipeline import decode_image
from tfl.evaluate import evaluate_model

COUNTS = {"cats": 10, "dogs": 5, "owls": 2}


@pytest.fixture
def folder(tmp_path):
    """Three classes of constant PNGs whose grey value identifies the file."""
    root = tmp_path / "animals"
    owners = fakes.write_id_images(root, COUNTS)
    return root, owners


def _load(root, **kwargs):
    kwargs = {"image_size": (4, 4), "batch_size": 4, **kwargs}
    return from_directory(root, **kwargs)


def test_class_names_are_the_sorted_folder_names_and_labels_match(folder):
    root, owners = folder
    data = _load(root)

    ids, labels = fakes.ids_and_labels(data.train)
    held_out_ids, held_out_labels = fakes.ids_and_labels(data.validation)

    assert data.class_names == ("cats", "dogs", "owls")
    for i, label in zip(ids + held_out_ids, labels + held_out_labels):
        assert data.class_names[label] == owners[i]


def test_batches_are_float32_rgb_images_in_0_255_with_int32_labels(tmp_path):
    for name in ("a", "b"):
        for i in range(3):
            fakes.write(tmp_path / name / f"{i}.jpg", fakes.jpeg(fakes.noise(i, (20, 30, 3))))
    data = from_directory(tmp_path, image_size=(8, 12), batch_size=2)

    features, labels = next(iter(data.train))

    images = features["images"].numpy()
    assert images.dtype == np.float32 and images.shape == (2, 8, 12, 3)
    assert images.min() >= 0 and images.max() <= 255 and images.max() > 1
    assert labels.dtype == "int32" and labels.shape == (2,)
    assert data.image_size == (8, 12) and not data.multi_label


def test_split_is_stratified_disjoint_and_complete(folder):
    root, owners = folder
    data = _load(root, validation_split=0.2)

    ids, _ = fakes.ids_and_labels(data.train)
    held_out_ids, _ = fakes.ids_and_labels(data.validation)

    assert not set(ids) & set(held_out_ids)
    assert sorted(ids + held_out_ids) == sorted(owners)
    held_out_per_class = collections.Counter(owners[i] for i in held_out_ids)
    assert held_out_per_class == {"cats": 2, "dogs": 1, "owls": 1}  # >= 1 each, rounded
    assert (data.num_train, data.num_validation) == (len(ids), len(held_out_ids)) == (13, 4)


def test_split_is_the_same_for_the_same_seed_and_differs_for_another(folder):
    root, _ = folder

    def held_out(seed):
        return sorted(fakes.ids_and_labels(_load(root, seed=seed).validation)[0])

    assert held_out(1) == held_out(1)
    assert held_out(1) != held_out(2)


def test_validation_is_not_shuffled_and_labels_are_in_its_order(folder):
    root, _ = folder
    data = _load(root)

    first, labels = fakes.ids_and_labels(data.validation)
    second, _ = fakes.ids_and_labels(data.validation)

    assert first == second
    np.testing.assert_array_equal(data.validation_labels, labels)


def test_training_is_shuffled_each_epoch(folder):
    root, _ = folder
    data = _load(root)

    assert fakes.ids_and_labels(data.train)[0] != fakes.ids_and_labels(data.train)[0]


def test_images_in_nested_folders_and_upper_case_extensions_count(tmp_path):
    fakes.write(tmp_path / "a" / "x" / "y" / "deep.PNG", fakes.png(fakes.noise(0)))
    fakes.write(tmp_path / "a" / "top.JPEG", fakes.jpeg(fakes.noise(1)))
    fakes.write(tmp_path / "b" / "one.Gif", fakes.gif(fakes.noise(2)[..., 0]))
    fakes.write(tmp_path / "b" / "two.bmp", fakes.bmp(fakes.noise(3)))

    data = from_directory(tmp_path, image_size=4)

    assert data.num_train + data.num_validation == 4


def test_hidden_files_and_os_litter_are_ignored(folder):
    root, owners = folder
    fakes.write(root / "cats" / ".DS_Store", b"\0\0\0\1Bud1")
    fakes.write(root / "cats" / "Thumbs.db", b"\xd0\xcf\x11\xe0")
    fakes.write(root / "dogs" / "desktop.ini", b"[.ShellClassInfo]")
    fakes.write(root / "dogs" / "._000.png", b"\0\5\26\7 AppleDouble")
    fakes.write(root / ".hidden_class" / "a.png", fakes.png(fakes.noise(0)))
    fakes.write(root / "owls" / ".ipynb_checkpoints" / "a.png", b"junk")

    data = _load(root)

    assert data.class_names == ("cats", "dogs", "owls")
    assert data.num_train + data.num_validation == len(owners)


def test_validation_path_is_the_held_out_set(folder, tmp_path):
    root, owners = folder
    held_out_root = tmp_path / "held_out"
    held_out_owners = fakes.write_id_images(
        held_out_root, {"cats": 2, "dogs": 1, "owls": 3}, start=40
    )

    data = _load(root, validation_path=held_out_root)

    assert sorted(fakes.ids_and_labels(data.train)[0]) == sorted(owners)
    held_out_ids, labels = fakes.ids_and_labels(data.validation)
    assert sorted(held_out_ids) == sorted(held_out_owners)
    names = [data.class_names[label] for label in labels]
    assert names == [held_out_owners[i] for i in held_out_ids]


def test_validation_path_with_other_classes_names_them(folder, tmp_path):
    root, _ = folder
    fakes.write_id_images(tmp_path / "held_out", {"cats": 1, "dgos": 1, "owls": 1})

    message = r"missing from the validation folder: 'dogs'.*only in the validation folder: 'dgos'"
    with pytest.raises(ValueError, match=message):
        _load(root, validation_path=tmp_path / "held_out")


def test_a_class_with_one_image_trains_only_and_is_logged(tmp_path, caplog):
    fakes.write_id_images(tmp_path, {"many": 5, "single": 1})

    with caplog.at_level(logging.WARNING, logger="tfl"):
        data = from_directory(tmp_path, image_size=4)

    assert (data.num_train, data.num_validation) == (5, 1)
    assert "single" in caplog.text


# Each builds a bad folder below `root` and returns the text the error must contain.
def _missing(root):
    return str(root / "nowhere"), FileNotFoundError, "not found.*nowhere"


def _a_file(root):
    path = fakes.write(root / "image.png", fakes.png(fakes.noise(0)))
    return path, ValueError, "is a file, not a folder"


def _no_class_folders(root):
    fakes.write(root / "loose.png", fakes.png(fakes.noise(0)))
    return root, ValueError, "No class folders.*1 image files directly"


def _one_class(root):
    fakes.write_id_images(root, {"cats": 3})
    return root, ValueError, "one class folder \\('cats'\\).*at least 2 classes"


def _empty_class(root):
    fakes.write_id_images(root, {"cats": 3, "dogs": 3})
    os.makedirs(root / "emus")
    return root, ValueError, "Class folder 'emus' has no images.*Add images or remove the folder"


def _class_of_litter(root):
    fakes.write_id_images(root, {"cats": 3, "dogs": 3})
    fakes.write(root / "emus" / "Thumbs.db", b"\xd0\xcf")
    return root, ValueError, "Class folder 'emus' has no images"


BAD_FOLDERS = {
    "missing": _missing,
    "a_file": _a_file,
    "no_class_folders": _no_class_folders,
    "one_class": _one_class,
    "empty_class": _empty_class,
    "class_of_only_litter": _class_of_litter,
}


@pytest.mark.parametrize("make", BAD_FOLDERS.values(), ids=BAD_FOLDERS.keys())
def test_bad_folder_is_an_error_that_says_what_to_fix(make, tmp_path):
    path, error, message = make(tmp_path)

    with pytest.raises(error, match=message):
        from_directory(path, image_size=4)


NOISE = fakes.noise(0, (32, 32, 3))


def _bmp(mode, **convert):
    """`NOISE` as a BMP that PIL writes from an image of `mode`."""
    import io

    from PIL import Image

    data = io.BytesIO()
    Image.fromarray(NOISE).convert(mode, **convert).save(data, format="BMP")
    return data.getvalue()


def _one_bit_bmp():
    """A valid black-and-white BMP (PIL mode "1"), which TensorFlow cannot decode."""
    return _bmp("1")


def test_an_8_bit_grey_bmp_is_read_as_its_grey_levels(tmp_path):
    """PIL writes a grey image as an 8-bit BMP whose palette is the grey ramp: TensorFlow's reading."""
    import io

    from PIL import Image

    path = fakes.write(tmp_path / "grey.bmp", _bmp("L"))
    assert find_bad_files([str(path)]) == {}
    decoded = decode_image(tf.io.read_file(str(path))).numpy()
    expected = np.asarray(Image.open(io.BytesIO(_bmp("L"))).convert("RGB"), dtype=np.float32)
    np.testing.assert_allclose(decoded, expected, atol=1e-3)


# name -> (file name in class 'cats', bytes, reason in the message)
BAD_FILES = {
    "zero_bytes": ("empty.jpg", b"", "empty file"),
    "text_named_png": ("notes.png", b"hello, I am text", "not an image: its first bytes"),
    "not_an_image_extension": ("readme.txt", b"some notes", r"not an image file \(\.txt\)"),
    "truncated_jpeg": ("cut.jpg", fakes.truncated(fakes.jpeg(NOISE)), "corrupt or truncated"),
    "truncated_png": ("cut.png", fakes.truncated(fakes.png(NOISE)), "corrupt or truncated"),
    "jpeg_magic_then_junk": ("junk.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 60, "corrupt or truncated"),
    "truncated_bmp": ("cut.bmp", fakes.truncated(fakes.bmp(NOISE)), "corrupt or truncated"),
    "one_bit_bmp": ("ink.bmp", _one_bit_bmp(), r"unsupported BMP bit depth: 1 bits per pixel .*convert it to PNG"),
    # TensorFlow would read its palette indices as grey levels: wrong colours, silently.
    "palette_bmp": ("paint.bmp", _bmp("P", palette=1, colors=16), r"8-bit BMP with a colour palette.*convert it to PNG"),
}


@pytest.mark.parametrize("case", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_file_is_an_error_naming_it(case, folder):
    root, _ = folder
    name, content, reason = case
    fakes.write(root / "cats" / "sub" / name, content)

    message = rf"(?s)1 of 18 files.*cats.sub.{name}: {reason}.*skip_bad_files=True"
    with pytest.raises(ValueError, match=message):
        _load(root)


@pytest.mark.parametrize("case", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_skipped_bad_file_is_counted_logged_and_the_rest_is_used(case, folder, caplog):
    root, owners = folder
    name, content, _ = case
    path = fakes.write(root / "cats" / name, content)

    with caplog.at_level(logging.WARNING, logger="tfl"):
        data = _load(root, skip_bad_files=True)

    assert data.skipped_files == (path,)
    assert "Skipped 1 bad files of 18" in caplog.text and name in caplog.text
    ids = fakes.ids_and_labels(data.train)[0] + fakes.ids_and_labels(data.validation)[0]
    assert sorted(ids) == sorted(owners)


def test_every_bad_file_is_named_in_one_error(folder):
    root, _ = folder
    fakes.write(root / "cats" / "a.jpg", b"")
    fakes.write(root / "owls" / "b.png", b"text")

    with pytest.raises(ValueError, match=r"(?s)2 of 19 files.*a\.jpg: empty.*b\.png: not an image"):
        _load(root)


def test_skipping_every_file_of_a_class_is_an_error(tmp_path):
    fakes.write_id_images(tmp_path, {"cats": 3})
    fakes.write(tmp_path / "dogs" / "a.jpg", b"")

    with pytest.raises(ValueError, match="'dogs' has no readable images after skipping"):
        from_directory(tmp_path, image_size=4, skip_bad_files=True)


def test_bad_file_in_validation_path_is_named(folder, tmp_path):
    root, _ = folder
    fakes.write_id_images(tmp_path / "held_out", {"cats": 1, "dogs": 1, "owls": 1})
    fakes.write(tmp_path / "held_out" / "dogs" / "broken.png", b"")

    with pytest.raises(ValueError, match="broken.png: empty file"):
        _load(root, validation_path=tmp_path / "held_out")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"validation_split": 0.0}, "validation_split is the held-out fraction"),
        ({"validation_split": 1.5}, "validation_split is the held-out fraction"),
        ({"batch_size": 0}, "batch_size must be an int >= 1"),
        ({"image_size": (4,)}, "image_size is"),
    ],
    ids=["split_zero", "split_above_one", "batch_size_zero", "image_size_one_number"],
)
def test_bad_argument_is_an_error_naming_it(kwargs, message, folder):
    root, _ = folder

    with pytest.raises(ValueError, match=message):
        _load(root, **kwargs)


def _tiny_model(num_classes):
    import keras

    images = keras.Input((4, 4, 3), name="images")
    pooled = keras.layers.GlobalAveragePooling2D()(images)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(pooled)
    return keras.Model({"images": images}, outputs)


def test_evaluation_loader_returns_image_data_holding_every_image_in_the_models_order(folder):
    root, owners = folder
    model_classes = ("owls", "cats", "dogs", "bats")

    data = from_directory_for_evaluation(root, class_names=model_classes, image_size=4, batch_size=4)

    ids, labels = fakes.ids_and_labels(data.validation)
    assert isinstance(data, ImageData)
    assert data.class_names == model_classes
    assert (data.num_train, data.num_validation) == (0, sum(COUNTS.values()))
    assert sorted(ids) == sorted(owners)
    assert [model_classes[label] for label in labels] == [owners[i] for i in ids]
    assert labels == data.validation_labels.tolist()
    assert list(data.train) == []


def test_model_predict_and_evaluate_model_accept_what_the_evaluation_loader_returns(folder):
    root, _ = folder
    model_classes = ("cats", "dogs", "owls")
    data = from_directory_for_evaluation(root, class_names=model_classes, image_size=4, batch_size=4)
    model = _tiny_model(len(model_classes))

    probabilities = model.predict(data.validation, verbose=0)
    report = evaluate_model(model, data.validation, data.class_names)

    assert probabilities.shape == (sum(COUNTS.values()), 3)
    assert report["num_examples"] == sum(COUNTS.values())


def test_evaluation_loader_rejects_a_folder_the_model_does_not_know(folder):
    root, _ = folder
    with pytest.raises(ValueError, match="Class folder 'owls' .* is not a class of the model"):
        from_directory_for_evaluation(root, class_names=("cats", "dogs"), image_size=4)


def test_options_and_overrides_give_the_same_pipelines(folder):
    root, _ = folder
    by_keywords = from_directory(root, image_size=(4, 4), batch_size=3, seed=7, validation_split=0.3)
    by_options = from_directory(
        root, options=ImageOptions(image_size=(4, 4), batch_size=3, seed=7, validation_split=0.3)
    )
    overridden = from_directory(root, options=ImageOptions(image_size=9, batch_size=3), image_size=4,
                                seed=7, validation_split=0.3)

    expected = fakes.ids_and_labels(by_keywords.validation)
    assert fakes.ids_and_labels(by_options.validation) == expected
    assert fakes.ids_and_labels(overridden.validation) == expected
    # The training order changes each pass (tfl.data.order); the examples do not.
    assert sorted(fakes.ids_and_labels(by_options.train)[0]) == sorted(fakes.ids_and_labels(by_keywords.train)[0])


def test_an_unknown_keyword_is_an_error_listing_the_accepted_ones(folder):
    root, _ = folder
    with pytest.raises(TypeError, match=r"from_directory\(\) got an unexpected keyword argument "
                                        r"'batch_sise'.*batch_size.*image_size.*Received: batch_sise=16"):
        from_directory(root, image_size=4, batch_sise=16)


def test_a_missing_validation_folder_names_its_config_key_and_its_flag(tmp_path):
    fakes.write_id_images(tmp_path / "train", {"cats": 2, "dogs": 2})

    with pytest.raises(FileNotFoundError, match=r"Check validation_path='.*nowhere' \(data.validation_source in a "
                                                r"config, --val-data with `tfl train`\)"):
        from_directory(tmp_path / "train", validation_path=tmp_path / "nowhere", image_size=4)


def test_a_file_as_evaluation_folder_names_the_argument_of_tfl_evaluate(tmp_path):
    path = fakes.write(tmp_path / "image.png", fakes.png(fakes.noise(0)))

    with pytest.raises(ValueError, match=r"path='.*image.png' \(DATA with `tfl evaluate`\) is a file, not a folder"):
        from_directory_for_evaluation(path, class_names=("cats", "dogs"), image_size=4)
