"""Balanced sampling: training epochs draw every class equally often, seeded by the epoch."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from tfl.cli.main import build_parser
from tfl.cli.train import config_from_args
from tfl.config import DataConfig
from tfl.data import from_arrays
from tfl.data import from_directory
from tfl.data import from_texts
from tfl.data.load import image_options
from tfl.data.load import text_options
from tfl.data.order import set_epoch

COUNTS = (120, 24, 6)  # 150 examples, 80% / 16% / 4%


def _labels():
    return np.repeat(np.arange(len(COUNTS)), COUNTS)


def _epoch(dataset, epoch):
    set_epoch(epoch)
    return np.concatenate([np.asarray(labels) for _, labels in dataset])


@pytest.fixture(scope="module")
def images():
    labels = _labels()
    x = np.random.RandomState(0).randint(0, 256, (len(labels), 32, 32, 3)).astype("uint8")
    held_out = (x[:9], np.repeat([0, 1, 2], 3))
    balanced = from_arrays(x, labels, validation_data=held_out, image_size=32, batch_size=16, balanced_sampling=True)
    plain = from_arrays(x, labels, validation_data=held_out, image_size=32, batch_size=16)
    return balanced, plain


def test_a_balanced_epoch_draws_each_class_about_equally_and_keeps_the_datas_size(images):
    balanced, plain = images
    labels = _epoch(balanced.train, 0)
    counts = np.bincount(labels, minlength=3)
    assert len(labels) == sum(COUNTS) == balanced.num_train
    # Equal weights: 50 each in expectation (binomial sd ~5.8); unbalanced, class 2 would be 6.
    assert all(abs(count - 50) <= 20 for count in counts), counts
    assert sorted(np.bincount(_epoch(plain.train, 0))) == sorted(COUNTS)


def test_balanced_epochs_repeat_for_the_same_epoch_and_differ_between_epochs(images):
    balanced, _ = images
    first = _epoch(balanced.train, 3)
    np.testing.assert_array_equal(_epoch(balanced.train, 3), first)
    assert not np.array_equal(_epoch(balanced.train, 4), first)


def test_validation_data_is_not_resampled(images):
    balanced, _ = images
    assert collections.Counter(_epoch(balanced.validation, 0).tolist()) == {0: 3, 1: 3, 2: 3}


def test_an_uncached_folder_draws_the_files_of_a_small_class_more_often(tmp_path):
    for name, count in (("many", 18), ("few", 2)):
        (tmp_path / name).mkdir()
        for i in range(count):
            (tmp_path / name / f"{i}.png").write_bytes(tf.io.encode_png(np.full((8, 8, 3), i, "uint8")).numpy())
    data = from_directory(tmp_path, image_size=8, batch_size=4, validation_split=0.5, cache=False,
                          balanced_sampling=True)
    few = data.class_names.index("few")
    labels = _epoch(data.train, 0)
    assert len(labels) == data.num_train == 10
    assert 2 <= np.sum(labels == few) <= 8  # 5 in expectation; 1 a plain epoch


def test_balanced_sampling_of_texts():
    labels = _labels()
    texts = [f"text {i}" for i in range(len(labels))]
    data = from_texts(texts, labels, validation_data=(["a", "b", "c"], [0, 1, 2]), batch_size=16,
                      balanced_sampling=True)
    counts = np.bincount(_epoch(data.train, 0), minlength=3)
    assert counts.sum() == sum(COUNTS) and all(abs(count - 50) <= 20 for count in counts), counts


def test_multi_label_data_is_refused():
    x = np.zeros((8, 32, 32, 3), "uint8")
    multi_hot = np.array([[1, 0], [0, 1], [1, 1], [1, 0]] * 2, "float32")
    with pytest.raises(ValueError, match="needs single-label data.*class_weight='balanced'"):
        from_arrays(x, multi_hot, image_size=32, balanced_sampling=True, validation_split=0.5)


def test_the_flag_and_the_config_reach_the_pipeline_options():
    args = build_parser().parse_args(["train", "--data", "digits", "--balanced-sampling"])
    config = config_from_args(args)
    assert config.data.balanced_sampling is True
    assert image_options(config.data, (32, 32)).balanced_sampling is True
    assert text_options(DataConfig(balanced_sampling=True), None).balanced_sampling is True
    assert config_from_args(build_parser().parse_args(["train", "--data", "digits"])).data.balanced_sampling is False
