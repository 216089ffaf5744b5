"""The cross-validation folds: stratified, non-overlapping, seeded, as folders of links."""

import os

import numpy as np
import pytest

from tfl.data.folds import fold_folders
from tfl.data.folds import stratified_folds

KEYS = np.array([0] * 7 + [1] * 5 + [2] * 3 + [3] * 10)


@pytest.mark.parametrize("folds", [2, 3])
@pytest.mark.parametrize("repeat", [0, 1])
def test_each_class_is_dealt_evenly_round_the_folds(folds, repeat):
    assignment = stratified_folds(KEYS, folds, seed=7, repeat=repeat)

    assert sorted(set(assignment.tolist())) == list(range(folds))
    for key in np.unique(KEYS):
        n = int((KEYS == key).sum())
        per_fold = np.bincount(assignment[KEYS == key], minlength=folds)
        assert per_fold.min() >= n // folds and per_fold.max() <= -(-n // folds), (key, per_fold)
    sizes = np.bincount(assignment, minlength=folds)
    assert sizes.max() - sizes.min() <= 1


def test_the_folds_are_seeded_and_each_repeat_reshuffles():
    first = stratified_folds(KEYS, 3, seed=7, repeat=0)

    assert np.array_equal(first, stratified_folds(KEYS, 3, seed=7, repeat=0))
    assert not np.array_equal(first, stratified_folds(KEYS, 3, seed=7, repeat=1))
    assert not np.array_equal(first, stratified_folds(KEYS, 3, seed=8, repeat=0))


def test_more_folds_than_the_smallest_class_holds_is_an_error():
    with pytest.raises(ValueError, match=r"folds=4 is more than the 3 examples of class 2.*folds <= 3"):
        stratified_folds(KEYS, 4, seed=0)


@pytest.mark.parametrize("folds", [1, 2.5, True])
def test_folds_must_be_a_whole_number_of_at_least_two(folds):
    with pytest.raises(ValueError, match="Received: folds="):
        stratified_folds(KEYS, folds, seed=0)


def _targets(folder):
    """`{(class, original file)}` of the links below a fold's folder."""
    found = set()
    for name in os.listdir(folder):
        for link in os.listdir(os.path.join(folder, name)):
            found.add((name, os.path.realpath(os.path.join(folder, name, link))))
    return found


def test_every_image_is_held_out_exactly_once_per_repeat(image_folder, tmp_path):
    every = {(name, os.path.realpath(image_folder / name / f)) for name in ("bright", "dark") for f in os.listdir(image_folder / name)}

    found = fold_folders(image_folder, 4, tmp_path / "folds", repeats=2, seed=3)

    assert [fold.name for fold in found] == [f"{r}-{k}" for r in range(2) for k in range(4)]
    for repeat in range(2):
        held_out = [_targets(fold.held_out) for fold in found if fold.repeat == repeat]
        assert set().union(*held_out) == every and sum(map(len, held_out)) == len(every)
        for fold, out in zip([f for f in found if f.repeat == repeat], held_out):
            assert _targets(fold.train) == every - out
            assert (fold.num_train, fold.num_held_out) == (12, 4)
            assert sorted(name for name, _ in out) == ["bright", "bright", "dark", "dark"]
    assert _targets(found[0].held_out) != _targets(found[4].held_out)  # repeat 1 reshuffles


def test_a_fold_folder_is_a_source_like_any_other(image_folder, tmp_path):
    from tfl.data import from_directory

    fold = fold_folders(image_folder, 2, tmp_path / "folds", seed=0)[0]
    data = from_directory(fold.train, validation_path=fold.held_out, image_size=16)

    assert (data.class_names, data.num_train, data.num_validation) == (("bright", "dark"), 8, 8)
