"""No half-written results: a process killed with SIGKILL while it writes
`model.keras`, `report.json` or a TF Serving version leaves, for each, the
old complete file or the new one, never a truncated one."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tfl.model import load_model

pytestmark = pytest.mark.slow


def _rounds(folder):
    try:
        return int((folder / "rounds").read_text() or 0)
    except FileNotFoundError:
        return 0


# The temporary name each writer uses while it writes, before the rename.
WRITING = {
    "model": ".model.keras.*.keras",
    "report": ".report.json.*.tmp",
    "export": "saved_models/m/.partial-*",
}


# What export_model writes beside the versions (TF Serving ignores them).
SERVING_FILES = ("README.md", "models.config", "requests")


def _kill_while_writing(folder, target):
    """Runs the writer until it finished a round, then kills it while it writes `target`."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.writer_process", str(folder)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while _rounds(folder) < 1 or not list(folder.glob(WRITING[target])):
            if process.poll() is not None:
                pytest.fail(process.stderr.read().decode()[-3000:])
            if time.monotonic() > deadline:
                pytest.fail(f"never saw {target} being written")
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


@pytest.mark.parametrize("target", sorted(WRITING))
def test_a_kill_while_a_result_is_written_leaves_each_result_whole(tmp_path, target):
    # Killed in round 2 or later: the new files were being written over whole ones.
    _kill_while_writing(tmp_path, target)
    assert list(tmp_path.glob(WRITING[target]))  # it was killed mid-write

    model = load_model(tmp_path / "model.keras")
    bias = model.head.bias.numpy()
    assert bias.tolist() in ([0.0, 0.0], [1.0, 1.0]), f"a model mixing two saves: {bias}"

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["end"] is True and len(report["payload"]) == 1_000_000

    versions = sorted(os.listdir(tmp_path / "saved_models" / "m"))
    visible = [name for name in versions if not name.startswith(".") and name not in SERVING_FILES]
    assert visible and all(name.isdigit() for name in visible)
    for name in visible:  # TF Serving would load each of these
        loaded = tf.saved_model.load(str(tmp_path / "saved_models" / "m" / name))
        pixels = tf.zeros([1, 32, 32, 3], tf.float32)
        probabilities = loaded.signatures["serving_pixels"](images=pixels)["probabilities"]
        np.testing.assert_allclose(np.sum(probabilities.numpy()), 1.0, rtol=1e-5)
