"""A `tfl train` process killed with SIGKILL midway through a stage continues
where it stopped when the same command runs again, and ends with the model
and metrics of an uninterrupted run."""

import json
import os
import signal
import subprocess
import time

import keras
import numpy as np
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tests.small_backbone import tfl_command
from tfl.model import load_model

pytestmark = pytest.mark.slow

TIMEOUT = 300


def _command(folder, output):
    return tfl_command(
        "train", "--data", str(folder), "--backbone", SMALL_BACKBONE,
        "--weights", "none", "--image-size", "32", "--stages", "none:2:1e-3,all:5:1e-3", "--batch-size", "4",
        "--seed", "3", "--verbose", "0", "--output", str(output),
    )


def _env():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def _state(output):
    try:
        with open(output / "checkpoint" / "state.json", encoding="utf-8") as file:
            return json.load(file)["point"]
    except (FileNotFoundError, json.JSONDecodeError):
        return None  # not written yet (state.json is replaced whole, never half-written)


def _kill_midway_in_stage_two(command, output):
    """Starts `command`, SIGKILLs it once stage 2 has finished an epoch; returns the state it left."""
    process = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            state = _state(output)
            if state is not None and state["stage"] == 1 and state["stage_epochs"] >= 1:
                time.sleep(0.15)  # somewhere inside the next epoch, or its save
                process.send_signal(signal.SIGKILL)
                process.wait(30)
                return state
            if process.poll() is not None:
                pytest.fail(f"tfl train ended before it could be killed:\n{process.stderr.read().decode()[-3000:]}")
            time.sleep(0.02)
        pytest.fail("stage 2 never saved an epoch")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def test_a_killed_run_continues_from_its_last_epoch_and_ends_as_an_uninterrupted_run(image_folder, tmp_path):
    uninterrupted, killed = tmp_path / "uninterrupted", tmp_path / "killed"
    subprocess.run(_command(image_folder, uninterrupted), env=_env(), check=True, timeout=TIMEOUT,
                   capture_output=True)

    state = _kill_midway_in_stage_two(_command(image_folder, killed), killed)
    assert process_left_no_results(killed)
    saved = _state(killed)
    assert saved["stage"] == 1 and saved["stage_epochs"] >= state["stage_epochs"]
    assert saved["stage_epochs"] < 5  # killed before the stage's end

    resumed = subprocess.run(_command(image_folder, killed), env=_env(), timeout=TIMEOUT, capture_output=True,
                             text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Continuing the unfinished run in {killed}" in resumed.stdout

    assert not (killed / "checkpoint").exists()  # removed once the results were written
    expected = json.loads((uninterrupted / "report.json").read_text())
    report = json.loads((killed / "report.json").read_text())
    assert report["accuracy"] == expected["accuracy"]
    assert [s["epochs"] for s in report["stages"]] == [2, 5]
    for mine, theirs in zip(report["stages"], expected["stages"], strict=True):
        assert mine["trainable_stages"] == theirs["trainable_stages"]
        for key in ("loss", "val_loss"):
            np.testing.assert_allclose(mine["history"][key], theirs["history"][key], rtol=1e-4, err_msg=key)
    mine = load_model(killed / "model.keras")
    theirs = load_model(uninterrupted / "model.keras")
    for a, b in zip(mine.weights, theirs.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)


def process_left_no_results(output):
    """A killed run leaves its checkpoint only: no report or model to mistake for results."""
    return not (output / "report.json").exists() and not (output / "model.keras").exists()


def _unfinished_run(folder, output, seed):
    """A checkpoint as `tfl train --seed SEED` leaves it when killed (no training needed)."""
    from tfl.cli.main import build_parser
    from tfl.cli.train import config_from_args
    from tfl.run_folder import run_checkpoint
    from tfl.train import ResumePoint

    command = _command(folder, output)
    command[command.index("--seed") + 1] = str(seed)
    config = config_from_args(build_parser().parse_args(command[3:]))
    point = ResumePoint(stage=1, stage_epochs=1, epoch=3, history={}, stage_seconds=1.0, records=[], weights="",
                        variable_paths=[], optimizer_variables=0, saved_at=0.0)
    run_checkpoint(output, config).save([keras.Variable(1.0)], point)


def test_a_folder_with_an_unfinished_run_of_another_config_is_refused(image_folder, tmp_path, capsys):
    from tfl.cli.main import main

    _unfinished_run(image_folder, tmp_path, seed=4)
    before = sorted(os.listdir(tmp_path / "checkpoint"))

    assert main(_command(image_folder, tmp_path)[3:]) == 2  # --seed 3

    error = capsys.readouterr().err
    assert "holds an unfinished run of another config (differs in: data.seed)" in error
    assert "--no-resume" in error
    assert sorted(os.listdir(tmp_path / "checkpoint")) == before  # nothing of it was touched


def test_resume_without_an_unfinished_run_is_refused_and_no_resume_discards_one(image_folder, tmp_path, capsys):
    from tfl.cli.main import main
    from tfl.run_folder import prepare_output_dir
    from tfl.run_folder import run_checkpoint

    assert main([*_command(image_folder, tmp_path / "empty")[3:], "--resume"]) == 2
    assert "holds no unfinished run to continue" in capsys.readouterr().err

    _unfinished_run(image_folder, tmp_path / "old", seed=4)
    config_checkpoint = prepare_output_dir(tmp_path / "old", resume=False, config=_config(image_folder, tmp_path))
    assert not config_checkpoint.exists() and not (tmp_path / "old" / "checkpoint").exists()
    assert run_checkpoint(tmp_path / "old", _config(image_folder, tmp_path)).load() is None


def _config(folder, output):
    from tfl.cli.main import build_parser
    from tfl.cli.train import config_from_args

    return config_from_args(build_parser().parse_args(_command(folder, output)[3:]))
