"""A `tfl train` process killed with SIGKILL midway through a stage continues
where it stopped when the same command runs again, and ends with the model
and metrics of an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tfl.model import load_model

pytestmark = pytest.mark.slow

TIMEOUT = 300


def _command(folder, output):
    return [
        sys.executable, "-m", "tfl", "train", "--data", str(folder), "--backbone", "mobilenet_v3_small",
        "--weights", "none", "--image-size", "32", "--stages", "none:2:1e-3,all:8:1e-3", "--batch-size", "4",
        "--seed", "3", "--verbose", "0", "--output", str(output),
    ]


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
    assert saved["stage_epochs"] < 8  # killed before the stage's end

    resumed = subprocess.run(_command(image_folder, killed), env=_env(), timeout=TIMEOUT, capture_output=True,
                             text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Continuing the unfinished run in {killed}" in resumed.stdout

    assert not (killed / "checkpoint").exists()  # removed once the results were written
    expected = json.loads((uninterrupted / "report.json").read_text())
    report = json.loads((killed / "report.json").read_text())
    assert report["accuracy"] == expected["accuracy"]
    assert [s["epochs"] for s in report["stages"]] == [2, 8]
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


def test_a_folder_with_an_unfinished_run_of_another_config_is_refused(image_folder, tmp_path):
    killed = tmp_path / "killed"
    _kill_midway_in_stage_two(_command(image_folder, killed), killed)
    other = [*_command(image_folder, killed)]
    other[other.index("--seed") + 1] = "4"
    result = subprocess.run(other, env=_env(), timeout=TIMEOUT, capture_output=True, text=True)
    assert result.returncode != 0
    assert "holds an unfinished run of another config (differs in: data.seed)" in result.stderr
    assert "--no-resume" in result.stderr
    assert _state(killed) is not None  # nothing of the unfinished run was touched
