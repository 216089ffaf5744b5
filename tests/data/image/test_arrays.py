import collections

import numpy as np
import pytest

from tests.data import fakes
from tfl.data import from_arrays


def _id_images(count):
    """Constant 4x4 grey images whose value 3 * i identifies image i."""
    return np.repeat(3 * np.arange(count, dtype=np.uint8), 16).reshape(count, 4, 4)


def _load(x, y, **kwargs):
    kwargs = {"image_size": (4, 4), "batch_size": 8, **kwargs}
    return from_arrays(x, y, **kwargs)


PIXEL = np.array([10, 120, 250], np.uint8)
SHAPES = {
    "grey_3d": (np.full((6, 5, 5), 10, np.uint8), [10, 10, 10]),
    "grey_4d": (np.full((6, 5, 5, 1), 10, np.uint8), [10, 10, 10]),
    "grey_alpha": (np.stack([np.full((6, 5, 5), 10), np.full((6, 5, 5), 99)], -1), [10, 10, 10]),
    "rgb": (np.broadcast_to(PIXEL, (6, 5, 5, 3)), PIXEL.tolist()),
    "rgba": (np.broadcast_to(np.append(PIXEL, 7), (6, 5, 5, 4)), PIXEL.tolist()),
}


@pytest.mark.parametrize("case", SHAPES.values(), ids=SHAPES.keys())
def test_every_image_shape_gives_float32_rgb_batches(case):
    x, pixel = case
    data = _load(x, np.arange(6) % 2, image_size=(3, 2))

    features, labels = next(iter(data.train))

    images = features["images"].numpy()
    assert images.dtype == np.float32 and images.shape == (4, 3, 2, 3)
    np.testing.assert_array_equal(images, np.broadcast_to(np.float32(pixel), images.shape))
    assert labels.dtype == "int32"


VALUE_RANGES = {
    "floats_0_1": (np.full((4, 2, 2), 0.5, np.float32), (0, 1), 128),
    "floats_minus_1_1": (np.full((4, 2, 2), 0.0, np.float64), (-1, 1), 128),
    "uint16": (np.full((4, 2, 2), 65535, np.uint16), (0, 65535), 255),
    "ints_0_255": (np.full((4, 2, 2), 200, np.int64), (0, 255), 200),
}


@pytest.mark.parametrize("case", VALUE_RANGES.values(), ids=VALUE_RANGES.keys())
def test_value_range_maps_to_0_255(case):
    x, value_range, expected = case
    data = _load(x, [0, 1, 0, 1], value_range=value_range)

    images = next(iter(data.validation))[0]["images"].numpy()

    np.testing.assert_array_equal(images, expected)


def test_split_is_stratified_disjoint_and_complete():
    y = np.array([0] * 10 + [1] * 5 + [2] * 2)
    data = _load(_id_images(17), y, validation_split=0.2)

    ids, labels = fakes.ids_and_labels(data.train)
    held_out_ids, held_out_labels = fakes.ids_and_labels(data.validation)

    assert not set(ids) & set(held_out_ids)
    assert sorted(ids + held_out_ids) == list(range(0, 51, 3))
    assert collections.Counter(held_out_labels) == {0: 2, 1: 1, 2: 1}
    assert all(y[i // 3] == label for i, label in zip(ids + held_out_ids, labels + held_out_labels))


def test_split_is_the_same_for_the_same_seed_and_differs_for_another():
    x, y = _id_images(30), np.arange(30) % 3

    def held_out(seed):
        return fakes.ids_and_labels(_load(x, y, seed=seed).validation)[0]

    assert held_out(5) == held_out(5)
    assert held_out(5) != held_out(6)


def test_validation_data_is_the_held_out_set_in_its_order():
    x_val = _id_images(5)[::-1]
    data = _load(_id_images(6), np.arange(6) % 2, validation_data=(x_val, [1, 0, 1, 0, 1]))

    ids, labels = fakes.ids_and_labels(data.validation)

    assert ids == [12, 9, 6, 3, 0]
    assert labels == [1, 0, 1, 0, 1]
    np.testing.assert_array_equal(data.validation_labels, labels)
    assert (data.num_train, data.num_validation) == (6, 5)


def test_string_labels_make_sorted_class_names():
    y = np.array(["owl", "cat", "dog"] * 4)
    data = _load(_id_images(12), y)

    ids, labels = fakes.ids_and_labels(data.train)

    assert data.class_names == ("cat", "dog", "owl")
    assert all(data.class_names[label] == y[i // 3] for i, label in zip(ids, labels))


def test_class_names_name_the_ids():
    data = _load(_id_images(6), np.arange(6) % 2, class_names=["no", "yes"])

    assert data.class_names == ("no", "yes")


def test_multi_hot_labels_make_multi_label_data():
    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]] * 3)
    data = _load(_id_images(12), y, class_names=["a", "b", "c"])

    ids, labels = fakes.ids_and_labels(data.train)
    batch_labels = next(iter(data.train))[1]

    assert data.multi_label
    assert batch_labels.dtype == "float32" and batch_labels.shape[1] == 3
    assert all(label == y[i // 3].tolist() for i, label in zip(ids, labels))
    assert data.validation_labels.shape == (data.num_validation, 3)


ERRORS = {
    "label_above_range": (_id_images(4), [0, 1, 2, 5], {"class_names": ["a", "b", "c"]},
                          r"Label 5 \(y\[3\]\) is outside 0\.\.2"),
    "negative_label": (_id_images(4), [0, 1, -1, 1], {}, r"Label -1 \(y\[2\]\) is outside"),
    "fractional_label": (_id_images(4), [0, 1, 1.5, 1], {}, r"y\[2\] is 1\.5; class ids are whole"),
    "nan_label": (_id_images(4), [0, 1, np.nan, 1], {}, "NaN labels.*index 2"),
    "single_class_ids": (_id_images(4), [0, 0, 0, 0], {}, r"single class \('0'\)"),
    "single_class_present": (_id_images(4), [1, 1, 1, 1], {"class_names": ["a", "b"]},
                             r"a single class \('b'\) out of 2"),
    "single_class_strings": (_id_images(3), ["cat"] * 3, {}, r"single class \('cat'\)"),
    "unknown_string": (_id_images(3), ["cat", "dog", "emu"], {"class_names": ["cat", "dog"]},
                       "not class names: 'emu'"),
    "length_mismatch": (_id_images(4), [0, 1, 0], {}, "4 images but 3 labels"),
    "empty": (np.zeros((0, 4, 4), np.uint8), [], {}, "x is empty"),
    "five_channels": (np.zeros((2, 4, 4, 5)), [0, 1], {}, r"shape \(N, H, W\).*\(2, 4, 4, 5\)"),
    "float_0_1_default_range": (np.full((2, 4, 4), 0.5), [0, 1], {}, r"Pass value_range=\(0, 1\)"),
    "outside_value_range": (np.full((2, 4, 4), 300), [0, 1], {},
                            r"\[300, 300\], outside value_range=\(0, 255\)"),
    "nan_pixels": (np.full((2, 4, 4), np.nan), [0, 1], {}, "x holds NaN"),
    "multi_hot_not_binary": (_id_images(2), [[1, 0.5], [0, 1]], {}, r"y\[0, 1\] is 0\.5"),
    "multi_hot_names_mismatch": (_id_images(2), [[1, 0], [0, 1]], {"class_names": ["a", "b", "c"]},
                                 "2 columns but class_names has 3"),
    "multi_hot_all_zero": (_id_images(2), [[0, 0], [0, 0]], {}, "no positive label"),
    "bad_value_range": (_id_images(2), [0, 1], {"value_range": (1, 0)}, "value_range is"),
    "duplicate_class_names": (_id_images(2), [0, 1], {"class_names": ["a", "a"]}, "Class names must be unique; repeated: a"),
    # Before, from_arrays returned an empty validation set without a word; folders and texts refuse it.
    "single_image_per_class": (_id_images(3), ["a", "b", "c"], {},
                               r"No image is left for validation in x: every class has a single image.*validation_data="),
    "single_image_per_class_multi_hot": (_id_images(2), [[1, 0], [0, 1]], {}, "No image is left for validation in x"),
}


@pytest.mark.parametrize("case", ERRORS.values(), ids=ERRORS.keys())
def test_bad_arrays_are_an_error_naming_the_problem(case):
    x, y, kwargs, message = case

    with pytest.raises(ValueError, match=message):
        _load(x, y, **kwargs)


def test_validation_labels_outside_the_classes_are_an_error():
    message = r"Label 4 \(validation_data\[1\]\[0\]\) is outside 0\.\.1"
    with pytest.raises(ValueError, match=message):
        _load(_id_images(4), [0, 1, 0, 1], validation_data=(_id_images(1), [4]))
