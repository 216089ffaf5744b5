import numpy as np
import pytest

from tests.data import fakes
from tfl.config import DataConfig
from tfl.data import list_image_files
from tfl.data import load_data
from tfl.data import load_images


def test_digits_source_gives_all_ten_classes():
    data = load_data(DataConfig(source="digits", validation_split=0.25, batch_size=50), (16, 16))

    features, _ = next(iter(data.train))

    assert data.class_names == tuple("0123456789")
    assert data.num_train + data.num_validation == 1797
    assert data.num_validation == pytest.approx(1797 * 0.25, abs=10)
    assert features["images"].shape == (50, 16, 16, 3)


@pytest.mark.parametrize("deterministic", [True, False])
def test_deterministic_option_reaches_both_pipelines(deterministic):
    data = load_data(DataConfig(source="digits", deterministic=deterministic), (8, 8))
    assert data.train.options().deterministic is deterministic
    assert data.validation.options().deterministic is deterministic


def test_folder_source_reads_the_folder_and_its_validation_source(tmp_path):
    fakes.write_id_images(tmp_path / "train", {"a": 3, "b": 2})
    fakes.write_id_images(tmp_path / "held_out", {"a": 1, "b": 1}, start=10)
    config = DataConfig(
        source=str(tmp_path / "train"), validation_source=str(tmp_path / "held_out")
    )

    data = load_data(config, 4)

    assert data.class_names == ("a", "b")
    assert (data.num_train, data.num_validation) == (5, 2)


def test_folder_source_passes_skip_bad_files(tmp_path):
    fakes.write_id_images(tmp_path, {"a": 3, "b": 2})
    fakes.write(tmp_path / "a" / "bad.jpg", b"")

    data = load_data(DataConfig(source=str(tmp_path), skip_bad_files=True), 4)

    assert len(data.skipped_files) == 1


def test_tfds_source_uses_the_tfds_fields(tmp_path, tfds_mock):
    config = DataConfig(
        source="tfds:mnist", tfds_data_dir=str(tmp_path), tfds_validation_split="test[:50%]"
    )
    with tfds_mock(num_examples=4):
        data = load_data(config, 8)

    assert data.class_names == tuple("0123456789")
    assert data.num_train == 4


@pytest.mark.parametrize(
    "config, message",
    [
        (DataConfig(), "data.source is not set"),
        (DataConfig(source="digits", validation_source="v/"), "for folder sources only"),
        (DataConfig(source="tfds:mnist", validation_source="v/"), "data.tfds_validation_split"),
    ],
    ids=["no_source", "digits_with_validation_source", "tfds_with_validation_source"],
)
def test_bad_source_is_an_error(config, message):
    with pytest.raises(ValueError, match=message):
        load_data(config, 8)


def test_load_images_matches_the_validation_pipeline(tmp_path):
    for name, seed in (("a", 0), ("b", 1)):
        fakes.write(tmp_path / name / "x.jpg", fakes.jpeg(fakes.noise(seed, (23, 17, 3))))
        fakes.write(tmp_path / name / "y.png", fakes.png(fakes.noise(seed + 2, (9, 30, 4))))
    config = DataConfig(source=str(tmp_path), validation_split=0.5, batch_size=8)
    validation = next(iter(load_data(config, (12, 10)).validation))[0]["images"].numpy()

    images = load_images(list_image_files(tmp_path), (12, 10))

    assert images.dtype == "float32" and images.shape == (4, 12, 10, 3)
    matches = [any(np.array_equal(v, image) for image in images.numpy()) for v in validation]
    assert len(validation) == 2 and all(matches)


def test_load_images_takes_one_path(tmp_path):
    path = fakes.write(tmp_path / "one.gif", fakes.gif(np.full((3, 3), 9, np.uint8)))

    images = load_images(path, 3)

    np.testing.assert_array_equal(images.numpy(), np.full((1, 3, 3, 3), 9.0))


@pytest.mark.parametrize(
    "name, content, error, message",
    [
        ("missing.jpg", None, FileNotFoundError, "Image file not found: .*missing.jpg"),
        ("notes.png", b"just text", ValueError, "notes.png: not an image"),
        ("empty.jpg", b"", ValueError, "empty.jpg: empty file"),
        ("cut.png", fakes.truncated(fakes.png(fakes.noise(0, (32, 32, 3)))), ValueError,
         "cut.png: corrupt or truncated"),
    ],
    ids=["missing", "not_an_image", "empty", "truncated"],
)
def test_load_images_names_a_file_it_cannot_read(name, content, error, message, tmp_path):
    good = fakes.write(tmp_path / "good.png", fakes.png(fakes.noise(0)))
    if content is not None:
        fakes.write(tmp_path / name, content)

    with pytest.raises(error, match=message):
        load_images([good, str(tmp_path / name)], 8)


def test_load_images_of_a_folder_points_to_list_image_files(tmp_path):
    with pytest.raises(ValueError, match="is a folder.*list_image_files"):
        load_images(str(tmp_path), 8)
