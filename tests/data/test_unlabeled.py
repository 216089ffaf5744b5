"""Where `data.unlabeled_source` (`--unlabeled`) is wrong, messages name the config key and the flag."""

import re

import pytest

from tests.data.fakes import write_id_images
from tfl.data.unlabeled import load_unlabeled

FLAG = r"data\.unlabeled_source='{}' \(--unlabeled with `tfl train`\)"


def test_a_missing_image_folder_names_the_flag(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match=r"does not exist\. Check " + FLAG.format(re.escape(str(missing)))):
        load_unlabeled(missing, "image", class_names=("a", "b"), image_size=8)


def test_a_text_file_for_an_image_run_names_the_flag(tmp_path):
    path = tmp_path / "pool.csv"
    with pytest.raises(ValueError, match=FLAG.format(re.escape(str(path))) + " is a text file"):
        load_unlabeled(path, "image", class_names=("a", "b"), image_size=8)


def test_a_folder_for_a_text_run_names_the_flag(tmp_path):
    with pytest.raises(ValueError, match=FLAG.format(re.escape(str(tmp_path))) + r" is not a \.csv/\.tsv/\.jsonl file"):
        load_unlabeled(tmp_path, "text", class_names=("a", "b"))


def test_unreadable_images_name_the_flag_that_skips_them(tmp_path):
    write_id_images(tmp_path, {"a": 1})
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"(?s)empty\.png: empty file.*--skip-bad-files with `tfl train`"):
        load_unlabeled(tmp_path, "image", class_names=("a", "b"), image_size=8)
