"""`removed_if_left_empty`: a failed run leaves no empty folder, and never removes anything else."""

import pytest

from tfl.run_folder import prepare_output_dir
from tfl.run_folder import removed_if_left_empty


class Failed(Exception):
    pass


def test_a_failure_removes_the_new_folder_its_parents_and_its_empty_subfolders(tmp_path):
    output = tmp_path / "runs" / "exp1"
    with pytest.raises(Failed), removed_if_left_empty(output):
        prepare_output_dir(output)
        (output / "checkpoint" / "empty").mkdir(parents=True)
        raise Failed
    assert list(tmp_path.iterdir()) == []


def test_a_failure_keeps_a_new_folder_that_holds_a_file(tmp_path):
    output = tmp_path / "runs" / "exp1"
    with pytest.raises(Failed), removed_if_left_empty(output):
        (output / "checkpoint").mkdir(parents=True)
        (output / "checkpoint" / "state.json").write_text("{}")  # a run to resume
        (output / "empty").mkdir()
        raise Failed
    assert (output / "checkpoint" / "state.json").exists() and (output / "empty").is_dir()


def test_a_failure_keeps_a_parent_that_existed(tmp_path):
    (tmp_path / "runs").mkdir()
    output = tmp_path / "runs" / "exp1"
    with pytest.raises(Failed), removed_if_left_empty(output):
        output.mkdir()
        raise Failed
    assert [path.name for path in tmp_path.iterdir()] == ["runs"] and list((tmp_path / "runs").iterdir()) == []


def test_a_success_keeps_the_empty_folder(tmp_path):
    with removed_if_left_empty(tmp_path / "exp1"):
        (tmp_path / "exp1").mkdir()
    assert (tmp_path / "exp1").is_dir()


def test_no_folder_is_no_op():
    with pytest.raises(Failed), removed_if_left_empty(None):
        raise Failed
