"""Target-domain images: labelled class folders, loose unlabelled images, withheld labels, errors."""

import os
import re

import numpy as np
import pytest

from tests.data.fakes import ids_and_labels
from tests.data.fakes import png
from tests.data.fakes import write
from tests.data.fakes import write_id_images
from tfl.data import load_digits
from tfl.data.image.digits import recolour_digits
from tfl.data.image.target import MISSING_LABEL
from tfl.data.image.target import load_target_images
from tfl.data.split import stratified_split

CLASSES = ("cat", "dog", "eel")


def _target_folder(root, labelled, loose):
    """Class folders with `labelled` {class: count} id images, and `loose` images in the root."""
    owners = write_id_images(root, labelled)
    for i in range(loose):
        value = 3 * (len(owners) + i)
        write(os.path.join(root, f"loose_{i:03d}.png"), png(np.full((4, 4, 1), value, np.uint8)))
        owners[value] = None
    return owners


def _load(root, **options):
    return load_target_images(str(root), image_size=4, class_names=CLASSES, batch_size=4, seed=3, **options)


def test_class_folders_are_labelled_loose_images_are_not_and_the_held_out_part_is_never_in_the_pool(tmp_path):
    owners = _target_folder(tmp_path, {"cat": 5, "dog": 5}, loose=6)
    target = _load(tmp_path, validation_split=0.4)
    pool_ids, pool_labels = ids_and_labels(target.train)
    test_ids, test_labels = ids_and_labels(target.test)
    assert target.num_test == 4 and target.num_train == 16 - 4 and target.num_labelled == 6
    assert not set(pool_ids) & set(test_ids)
    assert sorted(pool_ids + test_ids) == sorted(owners)
    for value, label in zip(pool_ids, pool_labels):
        expected = MISSING_LABEL if owners[value] is None else CLASSES.index(owners[value])
        assert label == expected
    assert all(owners[v] is not None for v in test_ids)  # only labelled images are held out
    assert [CLASSES[label] for label in test_labels] == [owners[v] for v in test_ids]
    np.testing.assert_array_equal(target.test_labels, test_labels)


def test_images_stream_is_the_pool_in_a_fixed_order_without_labels(tmp_path):
    _target_folder(tmp_path, {"cat": 3}, loose=5)
    target = _load(tmp_path)
    first = [batch["images"].numpy() for batch in target.images]
    second = [batch["images"].numpy() for batch in target.images]
    assert sum(len(b) for b in first) == target.num_train
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("per_class, expected", [(0, 0), (2, 4), (None, 8)], ids=["none", "two", "all"])
def test_labels_per_class_withholds_the_other_labels(tmp_path, per_class, expected):
    _target_folder(tmp_path, {"cat": 5, "dog": 5}, loose=2)
    target = _load(tmp_path, labels_per_class=per_class, validation_split=0.2)
    _, labels = ids_and_labels(target.train)
    assert target.num_labelled == expected == int(np.sum(np.array(labels) != MISSING_LABEL))
    if per_class:
        assert np.bincount([label for label in labels if label >= 0]).tolist() == [per_class, per_class]


def test_an_unlabelled_folder_has_no_test_set(tmp_path):
    _target_folder(tmp_path, {}, loose=7)
    target = _load(tmp_path)
    assert target.test is None and target.test_labels is None
    assert (target.num_train, target.num_labelled, target.num_test) == (7, 0, 0)


def test_recoloured_digits_are_the_digits_the_source_holds_out():
    target = load_target_images(
        "digits_recoloured", image_size=8, class_names=[str(i) for i in range(10)], seed=5, validation_split=0.2
    )
    images, labels = load_digits()
    _, held_out = stratified_split(labels, 0.2, 5)
    assert target.num_train + target.num_test == len(held_out)
    coloured = recolour_digits(images[held_out], 5)
    assert not np.allclose(coloured[..., 0], coloured[..., 1])  # colour, not grey
    pool = np.concatenate([b["images"].numpy() for b in target.images])
    test = np.concatenate([x["images"].numpy() for x, _ in target.test])
    rounded = {tuple(np.round(image).astype(int).ravel()) for image in np.round(coloured)}
    assert all(tuple(np.round(image).astype(int).ravel()) in rounded for image in np.concatenate([pool, test]))


@pytest.mark.parametrize(
    "make, message",
    [
        pytest.param(lambda root: write_id_images(root, {"cow": 2}), "Class folder 'cow' in the target folder", id="unknown-class"),
        pytest.param(lambda root: os.makedirs(root / "cat"), "holds no images", id="no-images"),
        pytest.param(lambda root: write(os.path.join(root, "x.png"), b""), "not readable images", id="empty-file"),
    ],
)
def test_bad_target_folders_are_named(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(ValueError, match=message):
        _load(tmp_path)


def test_a_missing_target_folder_names_the_config_key_and_the_flag(tmp_path):
    missing = tmp_path / "nope"
    message = rf"does not exist\. Check data\.target_source='{re.escape(str(missing))}' \(--target-data with `tfl train`\)"
    with pytest.raises(FileNotFoundError, match=message):
        _load(missing)


def test_unreadable_target_files_name_the_flag_that_skips_them(tmp_path):
    write(os.path.join(tmp_path, "x.png"), b"")
    with pytest.raises(ValueError, match=r"(?s)x\.png: empty file.*--skip-bad-files with `tfl train`"):
        _load(tmp_path)


def test_recoloured_digits_need_the_digit_classes():
    with pytest.raises(ValueError, match="target of the 'digits' source"):
        load_target_images("digits_recoloured", image_size=8, class_names=CLASSES)


def test_a_negative_label_count_is_refused(tmp_path):
    _target_folder(tmp_path, {"cat": 2}, loose=1)
    with pytest.raises(ValueError, match="labels_per_class=-1"):
        _load(tmp_path, labels_per_class=-1)
