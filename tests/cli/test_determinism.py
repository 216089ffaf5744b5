"""With a seed, two `tfl train` runs on the same machine give the same
weights and metrics."""

import json
import os
import subprocess

import numpy as np
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tests.small_backbone import tfl_command
from tfl.model import load_model

pytestmark = pytest.mark.slow


def _train(folder, output, *extra):
    command = tfl_command(
        "train", "--data", str(folder), "--backbone", SMALL_BACKBONE,
        "--weights", "none", "--image-size", "32", "--stages", "none:1:1e-3,all:2:1e-3", "--batch-size", "4",
        "--seed", "5", "--verbose", "0", "--output", str(output), *extra,
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run(command, env=env, check=True, timeout=300, capture_output=True)
    return json.loads((output / "report.json").read_text())


def test_two_runs_with_the_same_seed_give_bit_identical_weights_and_metrics(image_folder, tmp_path):
    first = _train(image_folder, tmp_path / "first", "--deterministic")
    second = _train(image_folder, tmp_path / "second", "--deterministic")

    assert first["config"]["train"]["deterministic"] is True
    assert first["stages"][1]["history"]["loss"] == second["stages"][1]["history"]["loss"]
    for key in ("accuracy", "macro_f1", "auc_roc", "confusion_matrix"):
        assert first[key] == second[key], key
    one, two = load_model(tmp_path / "first" / "model.keras"), load_model(tmp_path / "second" / "model.keras")
    for a, b in zip(one.weights, two.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
