import socket

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfl.data import from_tfds
from tfl.data import tfds_builder


class TinyShapes(tfds.core.GeneratorBasedBuilder):
    """A real, locally prepared data set: 6 train and 4 validation images, no download."""

    VERSION = tfds.core.Version("1.0.0")
    # tfds 4.9.10 looks up the code path of a builder defined in a package with
    # `importlib_resources`, which it only installs for Python < 3.9; no
    # checksums file is needed here, so skip the look-up.
    code_path = None

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(None, None, 3)),
                    "label": tfds.features.ClassLabel(names=["circle", "square"]),
                }
            ),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(0, 6), "validation": self._generate_examples(6, 4)}

    def _generate_examples(self, start, count):
        for i in range(start, start + count):
            yield i, {"image": np.full((5, 7, 3), 10 * i, np.uint8), "label": i % 2}


def test_mocked_mnist_gives_its_class_names_and_rgb_batches(tmp_path, tfds_mock):
    with tfds_mock(num_examples=12):
        data = from_tfds("mnist", image_size=(8, 8), data_dir=str(tmp_path), batch_size=5)
        features, labels = next(iter(data.train))

    assert data.class_names == tuple(str(i) for i in range(10))
    assert (data.num_train, data.num_validation) == (12, 12)
    images = features["images"].numpy()
    assert images.dtype == np.float32 and images.shape == (5, 8, 8, 3)
    np.testing.assert_array_equal(images[..., 0], images[..., 2])  # grey -> RGB
    assert images.min() >= 0 and images.max() <= 255 and images.max() > 1
    assert labels.dtype == "int32" and labels.shape == (5,)


def test_mocked_validation_is_in_a_fixed_order_with_its_labels(tmp_path, tfds_mock):
    with tfds_mock(num_examples=9):
        data = from_tfds("mnist", image_size=4, data_dir=str(tmp_path), batch_size=4)
        first = np.concatenate([y.numpy() for _, y in data.validation])
        second = np.concatenate([y.numpy() for _, y in data.validation])

    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, data.validation_labels)


def test_unknown_name_is_an_error_with_close_matches():
    with pytest.raises(ValueError, match="Unknown TFDS data set 'mnistt'.*Close matches: .*mnist"):
        from_tfds("mnistt", image_size=8)


def test_unprepared_data_set_without_network_fails_fast_without_trying_the_download(tmp_path, monkeypatch):
    attempts = []

    def no_route(*args, **kwargs):
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", no_route)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", lambda *a, **k: attempts.append(a))

    with pytest.raises(FileNotFoundError, match=rf"(?s)'mnist' is not prepared in {tmp_path}.*"
                       r"cannot reach storage.googleapis.com.*tfds build mnist --data_dir DIR"):
        from_tfds("mnist", image_size=8, data_dir=str(tmp_path))
    assert attempts == []  # TFDS' own retries take minutes offline


def test_a_failed_download_is_a_clear_error(tmp_path, monkeypatch):
    def failing(self, *args, **kwargs):
        raise ConnectionError("Failed to resolve 'storage.googleapis.com'")

    monkeypatch.setattr(tfds_builder, "network_error", lambda: None)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", failing)

    with pytest.raises(FileNotFoundError, match=rf"(?s)'mnist' is not prepared in {tmp_path}.*"
                       r"ConnectionError.*tfds build mnist --data_dir DIR"):
        from_tfds("mnist", image_size=8, data_dir=str(tmp_path))


def test_unknown_feature_key_is_an_error_listing_the_features(tmp_path, tfds_mock):
    message = "no feature 'img'. Its features: image, label"
    with tfds_mock(num_examples=2), pytest.raises(ValueError, match=message):
        from_tfds("mnist", image_size=8, data_dir=str(tmp_path), image_key="img")


@pytest.fixture(scope="module")
def tiny_shapes_dir(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("tfds"))
    tfds.builder("tiny_shapes", data_dir=data_dir).download_and_prepare()
    return data_dir


def test_prepared_data_set_reads_its_splits_and_pixels(tiny_shapes_dir):
    data = from_tfds(
        "tiny_shapes", image_size=(5, 7), data_dir=tiny_shapes_dir, validation_split="validation"
    )

    held_out = next(iter(data.validation))
    assert data.class_names == ("circle", "square")
    assert (data.num_train, data.num_validation) == (6, 4)
    assert sorted(held_out[0]["images"].numpy()[:, 0, 0, 0]) == [60, 70, 80, 90]
    assert sorted(held_out[1].numpy()) == [0, 0, 1, 1]


def test_unknown_split_is_an_error_listing_the_splits(tiny_shapes_dir):
    message = r"no split 'test' \(validation_split='test'\).*Its splits: train, validation"
    with pytest.raises(ValueError, match=message):
        from_tfds("tiny_shapes", image_size=8, data_dir=tiny_shapes_dir)
